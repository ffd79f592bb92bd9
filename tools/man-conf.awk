# man-conf.awk — docs/config.md as the manual page meshsync.conf(5), so
# the page and the document cannot drift apart: CMake runs
#   awk -v date=DATE -f tools/man-conf.awk docs/config.md > meshsync.conf.5
# Markdown handled: headings (## and ###), option tables (| `key` |
# default | meaning | and two-column | `name` | meaning |), paragraphs,
# code fences, `code` and **bold**.  Nothing else is used in config.md.
function esc(s) {
	gsub(/\\/, "\\e", s)
	return s
}
function inline(s,   out, i, n, parts) {
	s = esc(s)
	gsub(/\*\*/, "\001", s)
	while (match(s, /\001[^\001]*\001/)) {
		s = substr(s, 1, RSTART - 1) "\\fB" substr(s, RSTART + 1, RLENGTH - 2) "\\fR" substr(s, RSTART + RLENGTH)
	}
	while (match(s, /`[^`]*`/)) {
		s = substr(s, 1, RSTART - 1) "\\fB" substr(s, RSTART + 1, RLENGTH - 2) "\\fR" substr(s, RSTART + RLENGTH)
	}
	gsub(/\001/, "**", s)
	return s
}
function line_out(s) {
	if (s ~ /^[.']/)
		s = "\\&" s
	print s
}
function trim(s) {
	sub(/^[ \t]+/, "", s)
	sub(/[ \t]+$/, "", s)
	return s
}
BEGIN {
	print ".\\\" meshsync.conf(5), generated from docs/config.md by"
	print ".\\\" tools/man-conf.awk: edit the document, not this page."
	printf ".TH MESHSYNC.CONF 5 %s meshsync \"meshsync manual\"\n", date
	print ".SH NAME"
	print "meshsync.conf \\- configuration of a meshsync node"
	print ".SH DESCRIPTION"
	fence = 0
	para = 0
}
NR == 1 && /^# / { next }
/^```/ {
	if (!fence) { print ".PP"; print ".nf"; print ".RS 4" }
	else { print ".RE"; print ".fi" }
	fence = !fence
	next
}
fence { line_out(esc($0)); next }
/^### / { print ".SS " substr($0, 5); para = 0; next }
/^## / { h = substr($0, 4); print ".SH \"" toupper(h) "\""; para = 0; next }
/^\|[ -]*(option|policy)[ ]*\|/ { next }
/^\|[-|]+\|$/ { next }
/^\| / {
	n = split($0, c, "|")
	# c[1] is empty (before the first |), c[n] after the last one
	name = trim(c[2])
	gsub(/`/, "", name)
	print ".TP"
	line_out("\\fB" esc(name) "\\fR")
	if (n == 5)
		line_out("Default: " inline(trim(c[3])) ".  " inline(trim(c[4])))
	else
		line_out(inline(trim(c[3])))
	para = 0
	next
}
/^[ \t]*$/ { para = 1; next }
{
	if (para) { print ".PP"; para = 0 }
	line_out(inline($0))
}
