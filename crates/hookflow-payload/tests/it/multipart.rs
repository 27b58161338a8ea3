use expect_test::{expect, Expect};

use crate::utils::{no_query, render};

/// Parses the fixture as written (LF line endings) and again with CRLF line endings; both must
/// give the same result (up to the line endings inside text values).
fn check(content_type: &str, body: &str, expect: Expect) {
    let parse = |body: &[u8]| render(hookflow_payload::parse_body(Some(content_type), body, &no_query()));
    let lf = parse(body.as_bytes());
    // Text keeps its line endings, so CRLF text shows as `\r\n` inside JSON strings.
    let crlf = parse(body.replace('\n', "\r\n").as_bytes()).replace(r"\r\n", r"\n");
    assert_eq!(lf, crlf, "LF and CRLF bodies differ");
    expect.assert_eq(&lf);
}

#[test]
fn text_fields_and_a_file() {
    check(
        "multipart/form-data; boundary=xYzZY",
        r#"--xYzZY
Content-Disposition: form-data; name="to"

inbound@example.com
--xYzZY
Content-Disposition: form-data; name="text"

two
lines
--xYzZY
Content-Disposition: form-data; name="attachment1"; filename="hello.txt"
Content-Type: Text/Plain; charset=utf-8

hello
--xYzZY--"#,
        expect![[r#"
            multipart
            {
              "to": "inbound@example.com",
              "text": "two\nlines",
              "attachment1": {
                "filename": "hello.txt",
                "content_type": "text/plain",
                "size": 5,
                "sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
              }
            }
            file field="attachment1" filename="hello.txt" content_type="text/plain" size=5 sha256=2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824
        "#]],
    );
}

#[test]
fn quoted_boundary_preamble_epilogue_and_padding() {
    check(
        r#"multipart/form-data; charset=utf-8; BOUNDARY="a b:c""#,
        r#"This is the preamble.
--a b:c  
content-disposition: form-data; name=plain

value
--a b:c
Content-Disposition: form-data;
 name="folded"

x
--a b:c--
This is the epilogue.
"#,
        expect![[r#"
            multipart
            {
              "plain": "value",
              "folded": "x"
            }
        "#]],
    );
}

#[test]
fn repeated_names_become_arrays() {
    check(
        "multipart/form-data; boundary=b",
        r#"--b
Content-Disposition: form-data; name="tag"

one
--b
Content-Disposition: form-data; name="tag"

two
--b
Content-Disposition: form-data; name="tag"; filename="three.bin"

3
--b--
"#,
        expect![[r#"
            multipart
            {
              "tag": [
                "one",
                "two",
                {
                  "filename": "three.bin",
                  "content_type": "application/octet-stream",
                  "size": 1,
                  "sha256": "4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce"
                }
              ]
            }
            file field="tag" filename="three.bin" content_type="application/octet-stream" size=1 sha256=4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce
        "#]],
    );
}

#[test]
fn empty_file_and_empty_field() {
    check(
        "multipart/form-data; boundary=b",
        r#"--b
Content-Disposition: form-data; name="upload"; filename=""
Content-Type: application/octet-stream


--b
Content-Disposition: form-data; name="note"


--b--"#,
        expect![[r#"
            multipart
            {
              "upload": {
                "filename": "",
                "content_type": "application/octet-stream",
                "size": 0,
                "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
              },
              "note": ""
            }
            file field="upload" filename="" content_type="application/octet-stream" size=0 sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
        "#]],
    );
}

#[test]
fn boundary_text_inside_content_is_content() {
    check(
        "multipart/form-data; boundary=b",
        r#"--b
Content-Disposition: form-data; name="body"

a line with --b inside
--bb is not the boundary either
--b--"#,
        expect![[r#"
            multipart
            {
              "body": "a line with --b inside\n--bb is not the boundary either"
            }
        "#]],
    );
}

#[test]
fn extended_and_escaped_filenames() {
    check(
        "multipart/form-data; boundary=b",
        r#"--b
Content-Disposition: form-data; name="f1"; filename="fallback.txt"; filename*=UTF-8''na%C3%AFve%20file.txt

x
--b
Content-Disposition: form-data; name="f2"; filename="C:\Users\ann\say \"hi\".txt"

y
--b--"#,
        expect![[r#"
            multipart
            {
              "f1": {
                "filename": "naïve file.txt",
                "content_type": "application/octet-stream",
                "size": 1,
                "sha256": "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
              },
              "f2": {
                "filename": "C:\\Users\\ann\\say \"hi\".txt",
                "content_type": "application/octet-stream",
                "size": 1,
                "sha256": "a1fce4363854ff888cff4b8e7875d600c2682390412a8cf79b37d0b11148b0fa"
              }
            }
            file field="f1" filename="naïve file.txt" content_type="application/octet-stream" size=1 sha256=2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881
            file field="f2" filename="C:\\Users\\ann\\say \"hi\".txt" content_type="application/octet-stream" size=1 sha256=a1fce4363854ff888cff4b8e7875d600c2682390412a8cf79b37d0b11148b0fa
        "#]],
    );
}

#[test]
fn bad_bodies() {
    check(
        "multipart/form-data",
        "--b\n\nx\n--b--",
        expect![[r#"
        error (invalid_multipart): invalid multipart body: the content type has no boundary parameter
    "#]],
    );
    check(
        "multipart/form-data; boundary=b",
        "no boundary here",
        expect![[r#"
        error (invalid_multipart): invalid multipart body: the boundary `--b` does not occur
    "#]],
    );
    check(
        "multipart/form-data; boundary=b",
        "--b\nContent-Disposition: form-data; name=\"a\"\n\ncut off",
        expect![[r#"
            error (invalid_multipart): invalid multipart body: the closing boundary `--b--` is missing
        "#]],
    );
    check(
        "multipart/form-data; boundary=b",
        "--b\nContent-Type: text/plain\n\nno disposition\n--b--",
        expect![[r#"
            error (invalid_multipart): invalid multipart body: part 1 has no Content-Disposition
        "#]],
    );
    check(
        "multipart/form-data; boundary=b",
        "--b\nContent-Disposition: form-data; filename=\"x\"\n\nno name\n--b--",
        expect![[r#"
            error (invalid_multipart): invalid multipart body: part 1 has no name
        "#]],
    );
}

#[test]
fn only_a_closing_delimiter_is_no_fields() {
    check(
        "multipart/form-data; boundary=b",
        "--b--\n",
        expect![[r#"
        multipart
        {}
    "#]],
    );
}
