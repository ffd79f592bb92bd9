# Fresh copy of a checked-in corpus into the build tree before a fuzz run, so
# libFuzzer adds its findings there and never to the source tree.
#   cmake -DSRC=<dir> -DDST=<dir> -P copy_corpus.cmake
file(REMOVE_RECURSE "${DST}")
file(MAKE_DIRECTORY "${DST}")
file(COPY "${SRC}/" DESTINATION "${DST}")
