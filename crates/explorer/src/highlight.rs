//! OLMoTrace-style highlighting of an output: the spans found verbatim in the Datanet are
//! marked in the text, each mark naming the spans that cover it, so that a click or a hover
//! shows their documents.
//!
//! Spans may overlap (two maximal matches can share words), so the output is cut at every span
//! boundary into segments, and each segment is marked with the set of spans covering it. Span
//! offsets are bytes of the output as the job service served it; an offset inside a UTF-8
//! character is widened to the character's boundary, and a span past the end is left out, so
//! no offset, however wrong, can break the page.

use crate::html::Text;
use std::fmt::Write as _;

/// A span's byte range in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ByteRange {
    /// First byte.
    pub(crate) start: usize,
    /// The byte after the last.
    pub(crate) end: usize,
}

/// `range` widened to character boundaries of `text`; `None` when it is empty or not inside.
pub(crate) fn on_boundaries(text: &str, range: ByteRange) -> Option<ByteRange> {
    if range.start >= range.end || range.end > text.len() {
        return None;
    }
    let mut start = range.start;
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = range.end;
    while !text.is_char_boundary(end) {
        end += 1;
    }
    Some(ByteRange { start, end })
}

/// `text` as markup: segments covered by spans become `<mark data-spans="i j">` (indexes into
/// `spans`; `None` entries are spans that could not be placed), the rest escaped text.
pub(crate) fn mark(text: &str, spans: &[Option<ByteRange>]) -> String {
    let mut cuts: Vec<usize> = vec![0, text.len()];
    for range in spans.iter().flatten() {
        cuts.push(range.start);
        cuts.push(range.end);
    }
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = String::with_capacity(text.len() * 2);
    for pair in cuts.windows(2) {
        let (start, end) = (pair[0], pair[1]);
        let covering: Vec<String> = spans
            .iter()
            .enumerate()
            .filter_map(|(i, range)| {
                range
                    .filter(|r| r.start <= start && end <= r.end)
                    .map(|_| i.to_string())
            })
            .collect();
        let piece = Text(&text[start..end]);
        if covering.is_empty() {
            let _ = write!(out, "{piece}");
        } else {
            let _ = write!(
                out,
                "<mark class=\"span\" tabindex=\"0\" data-spans=\"{}\">{piece}</mark>",
                covering.join(" ")
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(start: usize, end: usize) -> Option<ByteRange> {
        Some(ByteRange { start, end })
    }

    #[test]
    fn overlapping_spans_cut_the_text_into_segments() {
        let text = "one two three four";
        let html = mark(text, &[range(0, 7), range(4, 13)]);
        assert_eq!(
            html,
            "<mark class=\"span\" tabindex=\"0\" data-spans=\"0\">one </mark>\
             <mark class=\"span\" tabindex=\"0\" data-spans=\"0 1\">two</mark>\
             <mark class=\"span\" tabindex=\"0\" data-spans=\"1\"> three</mark> four"
        );
    }

    #[test]
    fn markup_in_the_output_is_text() {
        let text = "<script>alert(1)</script> & more";
        let html = mark(text, &[range(0, 8)]);
        assert!(!html.contains("<script>"));
        assert!(html.starts_with(
            "<mark class=\"span\" tabindex=\"0\" data-spans=\"0\">&lt;script&gt;</mark>"
        ));
        assert!(html.ends_with("&amp; more"));
    }

    /// The text back from `mark`'s markup: tags dropped, entities decoded.
    fn text_of(markup: &str) -> String {
        let mut text = String::new();
        let mut rest = markup;
        while let Some(open) = rest.find('<') {
            text.push_str(&rest[..open]);
            let close = rest[open..].find('>').map_or(rest.len(), |c| open + c + 1);
            rest = &rest[close..];
        }
        text.push_str(rest);
        text.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&")
    }

    proptest::proptest! {
        #[test]
        fn any_text_and_offsets_give_the_text_back_marked(
            text in "(<[a-z]{1,6}>|&[a-z]{2,4};|[a-zA-Z ]|\\PC){0,40}",
            raw in proptest::collection::vec((0usize..200, 0usize..200), 0..6),
        ) {
            let placed: Vec<Option<ByteRange>> = raw
                .iter()
                .map(|&(start, end)| on_boundaries(&text, ByteRange { start, end }))
                .collect();
            let html = mark(&text, &placed);
            let back = text_of(&html);
            proptest::prop_assert_eq!(back.as_str(), text.as_str());
            // Only the marks are elements: every tag is one of ours, never nested.
            let opened = html.matches("<mark ").count();
            proptest::prop_assert_eq!(opened, html.matches("</mark>").count());
            proptest::prop_assert_eq!(html.matches('<').count(), 2 * opened);
            for range in placed.iter().flatten() {
                proptest::prop_assert!(text.is_char_boundary(range.start) && text.is_char_boundary(range.end));
            }
        }
    }

    #[test]
    fn bad_offsets_never_break_the_page() {
        let text = "naïve café";
        // Inside the two-byte 'ï' (bytes 2..4): widened to the character.
        assert_eq!(
            on_boundaries(text, ByteRange { start: 3, end: 4 }),
            range(2, 4)
        );
        assert_eq!(on_boundaries(text, ByteRange { start: 0, end: 99 }), None);
        assert_eq!(on_boundaries(text, ByteRange { start: 5, end: 5 }), None);
        assert_eq!(on_boundaries(text, ByteRange { start: 6, end: 2 }), None);
        let placed = [on_boundaries(text, ByteRange { start: 3, end: 4 }), None];
        assert_eq!(
            mark(text, &placed),
            "na<mark class=\"span\" tabindex=\"0\" data-spans=\"0\">ï</mark>ve café"
        );
    }
}
