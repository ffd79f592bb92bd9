/*
 * keys.c — the network (membership) key and its derivations, and the key
 * files of a node's data directory: their text format, their permissions,
 * writing them once and loading them safely.
 *
 * Key files are short text lines ("msid1:<hex>\n", "msnet1:<hex>\n") so an
 * operator can see what a file is and move a network key between machines
 * by copy and paste.  Permissions are checked on the open descriptor (fstat)
 * so the file judged is the file read.
 */
#include "crypto.h"
#include "crypto_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ID_PREFIX "msid1:"
#define NET_PREFIX "msnet1:"
#define NETID_DOMAIN "meshsync/netid/v1"
#define LISTEN_DOMAIN "meshsync/listen/v1"
/* Longest key file we are willing to read: a key line plus generous room
 * for whitespace an editor may add; anything longer is not a key file. */
#define KEYFILE_MAX 512

struct ms_netkey {
	unsigned char *key; /* MS_NETKEY_LEN bytes, sodium_malloc, read-only */
};

/* --- hex ---------------------------------------------------------------- */

void ms_hex(char *out, const uint8_t *bin, size_t len)
{
	sodium_bin2hex(out, 2 * len + 1, bin, len);
}

/* Decode exactly 2*len hex digits (hexlen of them, not NUL-terminated). */
static int unhex_n(uint8_t *bin, size_t len, const char *hex, size_t hexlen)
{
	size_t got = 0;
	const char *end = NULL;

	if (hexlen != 2 * len)
		return -1;
	if (sodium_hex2bin(bin, len, hex, hexlen, NULL, &got, &end) != 0 ||
	    got != len || end != hex + hexlen)
		return -1;
	return 0;
}

int ms_unhex(uint8_t *bin, size_t len, const char *hex)
{
	return unhex_n(bin, len, hex, strlen(hex));
}

/* --- network key -------------------------------------------------------- */

/* A network key from key, or from fresh randomness when key is NULL. */
static ms_err netkey_new(ms_netkey **out, const uint8_t *key, ms_errbuf *eb)
{
	ms_netkey *nk = NULL;
	ms_err e;

	*out = NULL;
	if ((e = ms_crypto_init(eb)) != MS_OK)
		return e;
	nk = calloc(1, sizeof *nk);
	if (nk == NULL)
		return ms_errf(eb, MS_ENOMEM, "network key: out of memory");
	nk->key = sodium_malloc(MS_NETKEY_LEN);
	if (nk->key == NULL) {
		e = ms_errf(eb, MS_ENOMEM, "network key: sodium_malloc failed");
		goto fail;
	}
	if (key != NULL)
		memcpy(nk->key, key, MS_NETKEY_LEN);
	else
		randombytes_buf(nk->key, MS_NETKEY_LEN);
	if (sodium_mprotect_readonly(nk->key) != 0) {
		e = ms_errf(eb, MS_ECRYPTO,
		            "network key: sodium_mprotect_readonly failed");
		goto fail;
	}
	*out = nk;
	return MS_OK;
fail:
	ms_netkey_free(&nk);
	return e;
}

ms_err ms_netkey_generate(ms_netkey **out, ms_errbuf *eb)
{
	return netkey_new(out, NULL, eb);
}

void ms_netkey_free(ms_netkey **nkp)
{
	if (nkp == NULL || *nkp == NULL)
		return;
	sodium_free((*nkp)->key);
	free(*nkp);
	*nkp = NULL;
}

/* BLAKE2b-256(domain || key): one key, several unrelated values. */
static void netkey_derive(const ms_netkey *nk, const char *domain,
                          uint8_t out[MS_HASH_LEN])
{
	ms_hash_state st;

	ms_hash_init(&st);
	ms_hash_update(&st, domain, strlen(domain));
	ms_hash_update(&st, nk->key, MS_NETKEY_LEN);
	ms_hash_final(&st, out);
	sodium_memzero(&st, sizeof st);
}

void ms_netkey_id(const ms_netkey *nk, uint8_t id[MS_NETID_LEN])
{
	netkey_derive(nk, NETID_DOMAIN, id);
}

void ms_netkey_listen_keypair(const ms_netkey *nk, uint8_t pk[MS_CURVE_LEN],
                              uint8_t sk[MS_CURVE_LEN])
{
	uint8_t seed[MS_HASH_LEN];

	_Static_assert(MS_HASH_LEN == crypto_box_SEEDBYTES, "listen seed size");
	netkey_derive(nk, LISTEN_DOMAIN, seed);
	crypto_box_seed_keypair(pk, sk, seed);
	sodium_memzero(seed, sizeof seed);
}

void ms_netkey_to_text(const ms_netkey *nk, char buf[MS_NETKEY_TEXT_LEN])
{
	_Static_assert(MS_NETKEY_TEXT_LEN ==
	                       sizeof NET_PREFIX - 1 + 2 * MS_NETKEY_LEN + 2,
	               "MS_NETKEY_TEXT_LEN = prefix + hex + newline + NUL");
	memcpy(buf, NET_PREFIX, sizeof NET_PREFIX - 1);
	ms_hex(buf + sizeof NET_PREFIX - 1, nk->key, MS_NETKEY_LEN);
	buf[MS_NETKEY_TEXT_LEN - 2] = '\n';
	buf[MS_NETKEY_TEXT_LEN - 1] = '\0';
}

/* --- parsing key lines -------------------------------------------------- */

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

/*
 * Parse "<prefix><64 hex>" with optional surrounding whitespace from
 * text[0..len) into out (32 bytes).  On failure: MS_EINVAL, "what: why".
 * The reasons name what was expected, and recognise the other kind of key
 * file, because handing over the wrong file is the likely mistake.
 */
static ms_err parse_keyline(const char *what, const char *prefix,
                            const char *text, size_t len, uint8_t out[32],
                            ms_errbuf *eb)
{
	size_t plen = strlen(prefix);
	size_t hexlen;
	size_t i;

	while (len > 0 && is_space(text[0])) {
		text++;
		len--;
	}
	while (len > 0 && is_space(text[len - 1]))
		len--;
	if (len == 0)
		return ms_errf(eb, MS_EINVAL,
		               "%s: empty, expected \"%s<64 hex digits>\"",
		               what, prefix);
	if (len < plen || memcmp(text, prefix, plen) != 0) {
		if (strcmp(prefix, NET_PREFIX) == 0 &&
		    len >= sizeof ID_PREFIX - 1 &&
		    memcmp(text, ID_PREFIX, sizeof ID_PREFIX - 1) == 0)
			return ms_errf(
				eb, MS_EINVAL,
				"%s: this is a node identity key, not a network key",
				what);
		if (strcmp(prefix, ID_PREFIX) == 0 &&
		    len >= sizeof NET_PREFIX - 1 &&
		    memcmp(text, NET_PREFIX, sizeof NET_PREFIX - 1) == 0)
			return ms_errf(
				eb, MS_EINVAL,
				"%s: this is a network key, not a node identity key",
				what);
		return ms_errf(eb, MS_EINVAL, "%s: does not start with \"%s\"",
		               what, prefix);
	}
	text += plen;
	hexlen = len - plen;
	for (i = 0; i < hexlen; i++) {
		if (!is_hex(text[i]))
			return ms_errf(
				eb, MS_EINVAL,
				"%s: character %zu after \"%s\" is not a hex digit",
				what, i + 1, prefix);
	}
	if (hexlen != 64)
		return ms_errf(
			eb, MS_EINVAL,
			"%s: expected 64 hex digits after \"%s\", found %zu",
			what, prefix, hexlen);
	if (unhex_n(out, 32, text, hexlen) != 0)
		return ms_errf(eb, MS_EINVAL, "%s: bad hex", what);
	return MS_OK;
}

ms_err ms_netkey_from_text(ms_netkey **out, const char *text, ms_errbuf *eb)
{
	uint8_t key[MS_NETKEY_LEN];
	ms_err e;

	*out = NULL;
	e = parse_keyline("network key", NET_PREFIX, text, strlen(text), key,
	                  eb);
	if (e == MS_OK)
		e = netkey_new(out, key, eb);
	sodium_memzero(key, sizeof key);
	return e;
}

/* --- key files ---------------------------------------------------------- */

/* dir = the directory part of path ("." when there is none). */
static ms_err dir_of(char *dir, size_t cap, const char *path, ms_errbuf *eb)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL) {
		snprintf(dir, cap, ".");
		return MS_OK;
	}
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= cap)
		return ms_errf(eb, MS_EINVAL, "save %s: path too long", path);
	memcpy(dir, path, n);
	dir[n] = '\0';
	return MS_OK;
}

/* The directory holding a key file must be ours and closed to everyone
 * else: otherwise another user could swap the file under us. */
static ms_err check_dir(const char *path, const char *dir, ms_errbuf *eb)
{
	struct stat st;

	if (stat(dir, &st) != 0) {
		if (errno == ENOENT)
			return ms_errf(eb, MS_ENOTFOUND,
			               "save %s: directory %s does not exist",
			               path, dir);
		return ms_errf(eb, MS_EIO, "save %s: stat %s: %s", path, dir,
		               strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		return ms_errf(eb, MS_EINVAL, "save %s: %s is not a directory",
		               path, dir);
	if (st.st_uid != geteuid())
		return ms_errf(
			eb, MS_EPERM,
			"save %s: directory %s is owned by uid %u, not by the "
			"current user (uid %u)",
			path, dir, (unsigned)st.st_uid, (unsigned)geteuid());
	if ((st.st_mode & 0777) != 0700)
		return ms_errf(
			eb, MS_EPERM,
			"save %s: directory %s has mode %04o, must be 0700; run: "
			"chmod 700 %s",
			path, dir, (unsigned)(st.st_mode & 07777), dir);
	return MS_OK;
}

static ms_err write_all(int fd, const char *buf, size_t len, const char *path,
                        ms_errbuf *eb)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return ms_errf(eb, MS_EIO, "write %s: %s", path,
			               strerror(errno));
		}
		buf += n;
		len -= (size_t)n;
	}
	return MS_OK;
}

/*
 * Create path holding line, 0600, never replacing an existing file, and make
 * both the file and its directory entry durable before returning.  A
 * half-written file is removed so a retry can succeed.
 */
static ms_err write_keyfile(const char *path, const char *line, size_t len,
                            ms_errbuf *eb)
{
	char dir[PATH_MAX];
	int fd = -1;
	int dfd = -1;
	ms_err e;

	if ((e = dir_of(dir, sizeof dir, path, eb)) != MS_OK)
		return e;
	if ((e = check_dir(path, dir, eb)) != MS_OK)
		return e;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	          0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return ms_errf(
				eb, MS_EEXIST,
				"save %s: file exists (key files are never overwritten)",
				path);
		return ms_errf(eb, MS_EIO, "open %s: %s", path,
		               strerror(errno));
	}
	if ((e = write_all(fd, line, len, path, eb)) != MS_OK)
		goto fail;
	if (fsync(fd) != 0) {
		e = ms_errf(eb, MS_EIO, "fsync %s: %s", path, strerror(errno));
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		e = ms_errf(eb, MS_EIO, "close %s: %s", path, strerror(errno));
		goto fail;
	}
	fd = -1;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) != 0) {
		e = ms_errf(eb, MS_EIO, "fsync %s: %s", dir, strerror(errno));
		goto fail;
	}
	close(dfd);
	return MS_OK;
fail:
	if (dfd >= 0)
		close(dfd);
	if (fd >= 0)
		close(fd);
	unlink(path);
	return e;
}

/* Read what is left on fd (at most cap-1 bytes) into buf, NUL-terminated;
 * name says in messages where it comes from. */
static ms_err read_fd(int fd, const char *name, char *buf, size_t cap,
                      size_t *outlen, ms_errbuf *eb)
{
	size_t n = 0;

	/* Read one byte more than we accept to tell "exactly full" from "too
	 * long"; the loop ends at EOF or a full buffer. */
	while (n < cap) {
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return ms_errf(eb, MS_EIO, "read %s: %s", name,
			               strerror(errno));
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n == cap)
		return ms_errf(
			eb, MS_EINVAL,
			"load %s: too large to be a key file (more than %zu bytes)",
			name, cap - 1);
	buf[n] = '\0';
	*outlen = n;
	return MS_OK;
}

/* What kind of file mode is, for messages. */
static const char *file_kind(mode_t mode)
{
	if (S_ISFIFO(mode))
		return "FIFO";
	if (S_ISDIR(mode))
		return "directory";
	if (S_ISCHR(mode))
		return "character device";
	if (S_ISBLK(mode))
		return "block device";
	if (S_ISSOCK(mode))
		return "socket";
	if (S_ISLNK(mode))
		return "symbolic link";
	return "special file";
}

/*
 * Read a whole key file (at most cap-1 bytes) into buf.  strict: refuse a
 * file others may access or that is not ours (a node's own key files);
 * otherwise any mode (a key file a user hands us to import).
 */
static ms_err read_keyfile(const char *path, int strict, char *buf, size_t cap,
                           size_t *outlen, ms_errbuf *eb)
{
	struct stat st;
	int fd;
	ms_err e = MS_OK;

	/* O_NONBLOCK: a FIFO (or a device) put where a key file belongs must
	 * not block start-up in open or read; it is refused below.  A node's
	 * own key files are never symlinks (O_NOFOLLOW): a link there points
	 * the node at a file it did not write.  A key handed to import may
	 * be reached through a link the user made. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK |
	                        (strict ? O_NOFOLLOW : 0));
	if (fd < 0) {
		if (errno == ENOENT)
			return ms_errf(eb, MS_ENOTFOUND,
			               "load %s: no such file", path);
		if (errno == ELOOP && strict)
			return ms_errf(eb, MS_EINVAL,
			               "load %s: is a symbolic link; a key "
			               "file must be a regular file",
			               path);
		return ms_errf(eb, MS_EIO, "open %s: %s", path,
		               strerror(errno));
	}
	if (fstat(fd, &st) != 0) {
		e = ms_errf(eb, MS_EIO, "stat %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		e = ms_errf(eb, MS_EINVAL,
		            "load %s: is a %s; a key file must be a regular "
		            "file",
		            path, file_kind(st.st_mode));
		goto out;
	}
	if (strict && st.st_uid != geteuid()) {
		e = ms_errf(
			eb, MS_EPERM,
			"load %s: file is owned by uid %u, not by the current "
			"user (uid %u); run as its owner or: chown %u %s",
			path, (unsigned)st.st_uid, (unsigned)geteuid(),
			(unsigned)geteuid(), path);
		goto out;
	}
	if (strict && (st.st_mode & 0077) != 0) {
		e = ms_errf(
			eb, MS_EPERM,
			"load %s: file is %s by others (mode %04o); run: chmod "
			"600 %s",
			path,
			(st.st_mode & 0044)   ? "readable"
			: (st.st_mode & 0022) ? "writable"
					      : "accessible",
			(unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	e = read_fd(fd, path, buf, cap, outlen, eb);
out:
	close(fd);
	return e;
}

ms_err ms_identity_save(const ms_identity *id, const char *path, ms_errbuf *eb)
{
	/* "msid1:" + 64 hex + "\n" + NUL */
	char line[sizeof ID_PREFIX - 1 + 2 * MS_SEED_LEN + 2];
	uint8_t seed[MS_SEED_LEN];
	ms_err e;

	ms_identity_seed(id, seed);
	memcpy(line, ID_PREFIX, sizeof ID_PREFIX - 1);
	ms_hex(line + sizeof ID_PREFIX - 1, seed, MS_SEED_LEN);
	line[sizeof line - 2] = '\n';
	line[sizeof line - 1] = '\0';
	e = write_keyfile(path, line, sizeof line - 1, eb);
	sodium_memzero(seed, sizeof seed);
	sodium_memzero(line, sizeof line);
	return e;
}

/* The 32 secret bytes of a key file (prefix + hex) from the file at path,
 * or (fd >= 0) from fd, which path then only names in messages; strict:
 * the file's mode and owner are checked.  The text read is wiped. */
static ms_err read_keyline(const char *path, int fd, int strict,
                           const char *prefix, uint8_t out[32], ms_errbuf *eb)
{
	char buf[KEYFILE_MAX + 1];
	char what[PATH_MAX + 16];
	size_t n = 0;
	ms_err e;

	snprintf(what, sizeof what, "load %s", path);
	e = fd >= 0 ? read_fd(fd, path, buf, sizeof buf, &n, eb)
	            : read_keyfile(path, strict, buf, sizeof buf, &n, eb);
	if (e == MS_OK)
		e = parse_keyline(what, prefix, buf, n, out, eb);
	sodium_memzero(buf, sizeof buf);
	return e;
}

ms_err ms_identity_load(ms_identity **out, const char *path, ms_errbuf *eb)
{
	uint8_t seed[MS_SEED_LEN];
	ms_err e;

	*out = NULL;
	e = read_keyline(path, -1, 1, ID_PREFIX, seed, eb);
	if (e == MS_OK)
		e = ms_identity_from_seed(out, seed, eb);
	sodium_memzero(seed, sizeof seed);
	return e;
}

ms_err ms_netkey_save(const ms_netkey *nk, const char *path, ms_errbuf *eb)
{
	char line[MS_NETKEY_TEXT_LEN];
	ms_err e;

	ms_netkey_to_text(nk, line);
	e = write_keyfile(path, line, strlen(line), eb);
	sodium_memzero(line, sizeof line);
	return e;
}

/* A network key from the file at path, or (fd >= 0) from fd, which path
 * then only names in messages. */
static ms_err netkey_read(ms_netkey **out, const char *path, int fd, int strict,
                          ms_errbuf *eb)
{
	uint8_t key[MS_NETKEY_LEN];
	ms_err e;

	*out = NULL;
	e = read_keyline(path, fd, strict, NET_PREFIX, key, eb);
	if (e == MS_OK)
		e = netkey_new(out, key, eb);
	sodium_memzero(key, sizeof key);
	return e;
}

ms_err ms_netkey_load(ms_netkey **out, const char *path, ms_errbuf *eb)
{
	return netkey_read(out, path, -1, 1, eb);
}

ms_err ms_netkey_import(ms_netkey **out, const char *path, ms_errbuf *eb)
{
	return netkey_read(out, path, -1, 0, eb);
}

ms_err ms_netkey_import_fd(ms_netkey **out, int fd, const char *name,
                           ms_errbuf *eb)
{
	*out = NULL;
	if (fd < 0)
		return ms_errf(eb, MS_EINVAL, "load %s: no file descriptor",
		               name);
	return netkey_read(out, name, fd, 0, eb);
}
