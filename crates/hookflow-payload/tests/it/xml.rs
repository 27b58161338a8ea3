use expect_test::{expect, Expect};

use crate::utils::{no_query, render};

fn check(content_type: &str, body: impl AsRef<[u8]>, expect: Expect) {
    let result = hookflow_payload::parse_body(Some(content_type), body.as_ref(), &no_query());
    expect.assert_eq(&render(result));
}

#[test]
fn root_is_the_top_key_and_text_is_a_string() {
    check(
        "application/xml",
        "<activity><id>1</id></activity>",
        expect![[r#"
        xml
        {
          "activity": {
            "id": "1"
          }
        }
    "#]],
    );
}

#[test]
fn attributes_repeated_children_and_empty_elements() {
    check(
        "text/xml; charset=utf-8",
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment -->
<activity>
    <id type="integer">346167313</id>
    <stories type="array">
        <story><id>1</id><labels/></story>
        <story><id>2</id><labels></labels></story>
    </stories>
    <blank>   </blank>
    <flag enabled="true"/>
    <author>  Leo Franchi </author>
</activity>
"#,
        expect![[r##"
            xml
            {
              "activity": {
                "id": {
                  "@type": "integer",
                  "#text": "346167313"
                },
                "stories": {
                  "@type": "array",
                  "story": [
                    {
                      "id": "1",
                      "labels": ""
                    },
                    {
                      "id": "2",
                      "labels": ""
                    }
                  ]
                },
                "blank": "",
                "flag": {
                  "@enabled": "true"
                },
                "author": "  Leo Franchi "
              }
            }
        "##]],
    );
}

#[test]
fn cdata_entities_and_character_references() {
    check(
        "application/xml",
        r#"<m a="x &amp; &quot;y&quot;"><t>&lt;b&gt; &#233;&#x20AC;</t><c><![CDATA[<raw> & ]]>tail</c></m>"#,
        expect![[r#"
            xml
            {
              "m": {
                "@a": "x & \"y\"",
                "t": "<b> é€",
                "c": "<raw> & tail"
              }
            }
        "#]],
    );
}

#[test]
fn mixed_content_and_namespaces() {
    check(
        "application/soap+xml",
        r#"<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope">
  <soap:Body>Hello <b>bold</b> world</soap:Body>
</soap:Envelope>"#,
        expect![[r##"
            xml
            {
              "soap:Envelope": {
                "@xmlns:soap": "http://www.w3.org/2003/05/soap-envelope",
                "soap:Body": {
                  "b": "bold",
                  "#text": "Hello  world"
                }
              }
            }
        "##]],
    );
}

#[test]
fn malformed_documents() {
    check(
        "application/xml",
        "<a><b>1</a>",
        expect![[r#"
        error (invalid_xml): invalid XML at byte 7: ill-formed document: expected `</b>`, but `</a>` was found
    "#]],
    );
    check(
        "application/xml",
        "<a><b>1</b>",
        expect![[r#"
        error (invalid_xml): invalid XML at byte 11: unexpected end of document: `<a>` is not closed
    "#]],
    );
    check(
        "application/xml",
        "<a>1</a><b>2</b>",
        expect![[r#"
        error (invalid_xml): invalid XML at byte 8: a second root element
    "#]],
    );
    check(
        "application/xml",
        "text before <a/>",
        expect![[r#"
        error (invalid_xml): invalid XML at byte 0: text outside the root element
    "#]],
    );
    check(
        "application/xml",
        "<a>&nbsp;</a>",
        expect![[r#"
        error (invalid_xml): invalid XML at byte 3: unknown entity `&nbsp;`
    "#]],
    );
    check(
        "application/xml",
        "<a>AT&T</a>",
        expect![[r#"
        error (invalid_xml): invalid XML at byte 5: `&` that does not start an entity (write `&amp;`)
    "#]],
    );
    check(
        "application/xml",
        "<a x=1/>",
        expect![[r#"
        error (invalid_xml): invalid XML at byte 5: attribute value not enclosed in quotes
    "#]],
    );
    check(
        "application/xml",
        "\u{feff}<a></b>",
        expect![[r#"
        error (invalid_xml): invalid XML at byte 6: ill-formed document: expected `</a>`, but `</b>` was found
    "#]],
    );
    check(
        "application/xml",
        r#"<a x="1" x="2"/>"#,
        expect![[r#"
        error (invalid_xml): invalid XML at byte 9: attribute given twice
    "#]],
    );
    check(
        "application/xml",
        "<a><b",
        expect![[r#"
        error (invalid_xml): invalid XML at byte 3: syntax error: tag not closed: `>` not found before end of input
    "#]],
    );
    check(
        "application/xml",
        "<?xml version=\"1.0\"?><!-- only -->",
        expect![[r#"
        error (invalid_xml): invalid XML at byte 34: no root element
    "#]],
    );
    check(
        "application/xml",
        b"<a>\xff</a>".as_slice(),
        expect![[r#"
        error (invalid_xml): invalid XML at byte 3: invalid UTF-8
    "#]],
    );
}

#[test]
fn nesting_beyond_the_limit_is_an_error() {
    let body = format!("{}{}", "<a>".repeat(200), "</a>".repeat(200));
    check(
        "application/xml",
        body,
        expect![[r#"
            error (over_limit): the body is nested deeper than 64 levels
        "#]],
    );
}
