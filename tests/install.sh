# tests/install.sh — `make install` / `make uninstall` into a DESTDIR, a program of one's own (examples/sample.c)
# built against the installed header and library (as C, and as C++ when there is a g++), and the installed
# library's symbols (install_symbols).
# Sourced by test.sh; its install section runs install_tree with W (work directory) and M (the small model of
# fixture small, in cli_train.sh). cr/check/fixture are defined in test.sh.

install_tree() {
    fixture small
    local D="$W/dest" P=/opt/charrnn
    # --- install: every file where it belongs
    check "make install DESTDIR PREFIX" make -s -C "$ROOT" install DESTDIR="$D" PREFIX="$P"
    local f
    for f in bin/charrnn share/man/man1/charrnn.1 share/bash-completion/completions/charrnn include/charrnn/rnn.h \
             lib/libcharrnn.a lib/pkgconfig/charrnn.pc; do
        check "installed $P/$f" test -s "$D$P/$f"
    done
    check "the installed charrnn runs" bash -c "'$D$P/bin/charrnn' --version | grep -q '^charrnn '"
    check "the installed completion script is the one the binary writes" bash -c "'$ROOT/charrnn' --completion bash | cmp -s - '$D$P/share/bash-completion/completions/charrnn'"
    check "charrnn.pc names the prefix and the version" bash -c "grep -qx 'prefix=$P' '$D$P/lib/pkgconfig/charrnn.pc' && grep -qx \"Version: \$('$ROOT/charrnn' --version | cut -d' ' -f2)\" '$D$P/lib/pkgconfig/charrnn.pc'"
    check "charrnn.pc's Cflags name the header's own directory" grep -qx 'Cflags: -I${includedir}/charrnn' \
        "$D$P/lib/pkgconfig/charrnn.pc"
    install_symbols "$D$P/lib/libcharrnn.a" "$D$P/include/charrnn/rnn.h"
    # --- the example program, built against the installed tree (through pkg-config if there is one)
    local flags="-I$D$P/include/charrnn -L$D$P/lib -lcharrnn -lm -lpthread"
    if command -v pkg-config >/dev/null 2>&1; then
        flags=$(PKG_CONFIG_PATH="$D$P/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$D" pkg-config --cflags --libs charrnn)
    fi
    # shellcheck disable=SC2086
    check "examples/sample.c builds against the installed library ($flags)" \
        ${CC:-cc} -std=c11 -Wall -Wextra -pedantic -Werror -o "$W/example" "$ROOT/examples/sample.c" $flags
    "$W/example" "$M" 300 7 >"$W/example.out"
    check "the example program runs" test $? -eq 0 -a -s "$W/example.out"
    cr sample -m "$M" -n 300 --seed 7 --threads 1
    check "the example prints what 'charrnn sample --seed 7' prints" cmp -s "$W/example.out" "$TMP/out"
    # --- the same program as C++ (rnn.h's extern "C"): it links against the C library and prints the same
    if command -v "${CXX:-g++}" >/dev/null 2>&1; then
        # shellcheck disable=SC2086
        check "examples/sample.c builds as C++ against the installed library (${CXX:-g++})" \
            "${CXX:-g++}" -x c++ -std=c++11 -Wall -Wextra -pedantic -Werror -o "$W/example++" \
            "$ROOT/examples/sample.c" -x none $flags
        "$W/example++" "$M" 300 7 >"$W/example++.out"
        check "the C++ example prints what 'charrnn sample --seed 7' prints" cmp -s "$W/example++.out" "$TMP/out"
    else
        echo "# skipped: the C++ build of examples/sample.c (no ${CXX:-g++} on this machine)"
    fi
    "$W/example" "$W/none.ckpt" 3 1 2>"$W/example.err" >/dev/null
    check "the example reports the library's error" grep -qx "sample: cannot open '$W/none.ckpt': No such file or directory" "$W/example.err"
    # --- uninstall: exactly what install put there
    check "make uninstall" make -s -C "$ROOT" uninstall DESTDIR="$D" PREFIX="$P"
    local left
    left=$(find "$D" ! -type d)
    check "uninstall leaves no file behind${left:+ (left: $left)}" test -z "$left"
    check "uninstall removes include/charrnn" test ! -e "$D$P/include/charrnn"
}

# install_symbols LIBRARY HEADER: every global symbol the static LIBRARY defines begins with rnn_, so that no
# name of a program linking it can collide with the library's; the public ones (rnn_ + a letter) are all declared
# in HEADER, the private ones take rnn__ (rnn_impl.h says the rule).
install_symbols() {
    local lib=$1 hdr=$2
    if ! command -v nm >/dev/null 2>&1; then
        echo "# skipped: the symbols of libcharrnn.a (no nm on this machine)"
        return 0
    fi
    local syms others undeclared s
    syms=$(nm -g "$lib" | awk 'NF == 3 && $2 != "U" { print $3 }' | sort -u)
    others=$(grep -v '^rnn_' <<<"$syms" | tr '\n' ' ')
    check "libcharrnn.a defines $(wc -l <<<"$syms") global symbols, each rnn_*${others:+ (not: $others)}" \
        test -n "$syms" -a -z "$others"
    undeclared=
    for s in $(grep '^rnn_[a-z0-9]' <<<"$syms"); do
        grep -qw "$s" "$hdr" || undeclared+="$s "
    done
    check "every public symbol (rnn_ + a letter) is declared in rnn.h${undeclared:+ (not: $undeclared)}" \
        test -z "$undeclared"
}
