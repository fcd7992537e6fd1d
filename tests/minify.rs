// SPDX-License-Identifier: GPL-2.0
//! Tests of the header minifier, rule by rule, and its properties on arbitrary input.
//! `scripts/prove-minify` checks it against clang's lexer on a whole kernel tree.

#[path = "../src/pack/minify.rs"]
mod minify;

use minify::minify;
use proptest::prelude::*;

#[track_caller]
fn check(input: &str, expected: &str) {
    let out = minify(input.as_bytes());
    assert_eq!(String::from_utf8_lossy(&out), expected, "input {input:?}");
    assert_eq!(minify(&out), out, "not idempotent on {input:?}");
}

#[test]
fn spdx_comments_are_kept() {
    check(
        "// SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note \n#define A 1\n",
        "// SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note \n#define A 1\n",
    );
    check(
        "/* SPDX-License-Identifier: GPL-2.0 */  \n/* other */\n",
        "/* SPDX-License-Identifier: GPL-2.0 */\n\n",
    );
    check(
        "a /* SPDX-License-Identifier: MIT */b",
        "a /* SPDX-License-Identifier: MIT */b",
    );
}

#[test]
fn comments_become_one_space() {
    check("a/**/b", "a b");
    check("a/* x */ /* y */b", "a b");
    check("/* lead */ int x; /* trail */\n", "int x;\n");
    check("int x; // note\n", "int x;\n");
    check("a/ /**/ /b", "a/ /b");
    check("a/**//b", "a /b");
    check("x = a / b;", "x = a / b;");
    check("a/\\\n*c*\\\n/b", "a\n\nb");
}

#[test]
fn newlines_are_kept() {
    check("/*\n * doc\n */\nint x;\n\n\n", "\n\n\nint x;\n\n\n");
    check("a /* one\ntwo */ b\n", "a\nb\n");
}

#[test]
fn comment_in_directive_continues_it() {
    check(
        "#define A(x) /* one\n two */ ((x) + 1)\nint y;\n",
        "#define A(x) \\\n((x) + 1)\nint y;\n",
    );
    check("#define A/*\n\n*/(x) x\n", "#define A \\\n\\\n(x) x\n");
    check("#if X /* one\n two */\n#endif\n", "#if X \\\n\n#endif\n");
    check("#/*\n*/define A 1\n", "# \\\ndefine A 1\n");
}

#[test]
fn line_comment_spliced_onto_next_line() {
    check(
        "int a; // note \\\n still note\nint b;\n",
        "int a;\n\nint b;\n",
    );
    check("#define A 1 // x\\\ny\nA\n", "#define A 1\n\nA\n");
    check("// a\\  \nb\nc\n", "\n\nc\n");
}

#[test]
fn literals_are_verbatim() {
    check(
        "s = \"/* not */ // a  comment\"; // comment\n",
        "s = \"/* not */ // a  comment\";\n",
    );
    check(
        "c = '\"'; /* x */ d = '\\''; e = \"\\\"/**/\";\n",
        "c = '\"'; d = '\\''; e = \"\\\"/**/\";\n",
    );
    check("s = \"a\\\n   b  \" ;\n", "s = \"a\\\n   b  \" ;\n");
    check("s = L\"x\\\\\"/**/;\n", "s = L\"x\\\\\" ;\n");
    check("s = \"x\\\\\n\";\n", "s = \"x\\\\\n\";\n");
}

#[test]
fn unterminated_literal_ends_at_line_end() {
    check(
        "#error don't /* keep */ this  \n/* drop */x\n",
        "#error don't /* keep */ this  \nx\n",
    );
    check(
        "mov $'a, %al # it's\nb /* c */\n",
        "mov $'a, %al # it's\nb\n",
    );
    check("\"open\\\nstill\n/* c */", "\"open\\\nstill\n ");
}

#[test]
fn header_names_are_verbatim() {
    check("#include <a//b.h> // c\n", "#include <a//b.h>\n");
    check(
        "  #  include_next\t<a/*b*/.h>\n",
        "# include_next <a/*b*/.h>\n",
    );
    check("#define LT(a, b) a</*x*/b\n", "#define LT(a, b) a< b\n");
}

#[test]
fn blanks_collapse_and_trim() {
    check("  \tint   x\t=  1 ;   \n", "int x = 1 ;\n");
    check(
        "#define  A(x)\t(x)\n#define B (x)\n",
        "#define A(x) (x)\n#define B (x)\n",
    );
    check("a\r\nb \r\n", "a\nb\n");
}

#[test]
fn continuation_lines_keep_a_separator() {
    check(
        "#define A \\\n\t\tfoo(1)  \\\n  + 2\n",
        "#define A \\\nfoo(1) \\\n+ 2\n",
    );
    check("#define A a\\\n   b\n", "#define A a\\\n b\n");
    check("#define A a   \\\n   b\n", "#define A a \\\nb\n");
    check("#define A \\\n(x) x\n", "#define A \\\n(x) x\n");
    check("#define A\\\n(x) x\n", "#define A\\\n(x) x\n");
    check("#def\\\nine A 1\n", "#def\\\nine A 1\n");
    check("#define A 1 \\  \n+ 2\n", "#define A 1 \\\n+ 2\n");
}

#[test]
fn end_of_input() {
    check("", "");
    check("a", "a");
    check("a\n", "a\n");
    check("a  ", "a");
    check("a\n  ", "a\n ");
    check("a\n// c", "a\n ");
    check("a \\", "a \\");
    check("a \\\n", "a \\\n");
    check("/* unterminated\n", "\n");
    check("'", "'");
    check("\"\\", "\"\\");
}

fn lines(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

/// Bytes drawn mostly from the characters the minifier cares about.
fn c_like() -> impl Strategy<Value = Vec<u8>> {
    let interesting = prop::sample::select(b"ab#<>/*\\\n\"' \t\r;SPDX-License-Identifier".to_vec());
    prop::collection::vec(prop_oneof![4 => interesting, 1 => any::<u8>()], 0..200)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_on_bytes(input in prop::collection::vec(any::<u8>(), 0..300)) {
        let out = minify(&input);
        prop_assert_eq!(lines(&out), lines(&input));
    }

    #[test]
    fn properties(input in c_like()) {
        let out = minify(&input);
        prop_assert_eq!(lines(&out), lines(&input));
        prop_assert_eq!(out.last() == Some(&b'\n'), input.last() == Some(&b'\n'));
        prop_assert!(out.len() <= input.len() + 2 * lines(&input));
        prop_assert_eq!(minify(&out), out);
    }
}
