//! What an upload is, decided from its bytes only (docs/protocol.md §9):
//! the binary formats by their signatures (the `infer` crate, which also
//! looks inside a ZIP for the parts that make it a DOCX or an XLSX), and
//! text as valid UTF-8 without NUL bytes that does not start like markup.
//! The file's name and the part's `Content-Type` never decide; the name
//! only tells CSV from plain text. And the name is cleaned before it is
//! kept.

pub use super::config::Kind;

/// How much of the start of an upload the signatures are read from.
pub const SNIFF_BYTES: usize = 64 * 1024;

/// The longest name kept, in characters.
const MAX_NAME_CHARS: usize = 255;

impl Kind {
    /// The binary kind of an upload from its first bytes: `Ok(Some)` an
    /// allowed-list kind, `Ok(None)` no known signature (it may be text),
    /// `Err` a known format the list does not have (HTML, an executable,
    /// a PPTX…), named for the refusal.
    pub fn sniff(head: &[u8]) -> Result<Option<Kind>, String> {
        let Some(found) = infer::get(head) else {
            return Ok(None);
        };
        // Scripts, HTML, XML: text by their bytes, left to the text check
        // (which refuses markup).
        if found.matcher_type() == infer::MatcherType::Text {
            return Ok(None);
        }
        let kind = match found.mime_type() {
            "image/png" => Kind::Png,
            "image/jpeg" => Kind::Jpeg,
            "image/gif" => Kind::Gif,
            "image/webp" => Kind::Webp,
            "application/pdf" => Kind::Pdf,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => Kind::Docx,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => Kind::Xlsx,
            "application/zip" => Kind::Zip,
            other => return Err(other.to_string()),
        };
        Ok(Some(kind))
    }

    pub fn is_image(self) -> bool {
        matches!(self, Kind::Png | Kind::Jpeg | Kind::Gif | Kind::Webp)
    }

    /// The `contentType` it is stored and served as.
    pub fn content_type(self, name: &str) -> &'static str {
        match self {
            Kind::Png => "image/png",
            Kind::Jpeg => "image/jpeg",
            Kind::Gif => "image/gif",
            Kind::Webp => "image/webp",
            Kind::Pdf => "application/pdf",
            Kind::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            Kind::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Kind::Zip => "application/zip",
            Kind::Text if name.to_lowercase().ends_with(".csv") => "text/csv",
            Kind::Text => "text/plain",
        }
    }
}

/// Checks, chunk by chunk, that an upload is text: valid UTF-8 (a
/// character may be split across chunks), no NUL byte, and its first
/// character after white space (and a byte-order mark) is not `<`, so an
/// HTML, SVG or XML file is never served back as text.
#[derive(Debug, Default)]
pub struct TextCheck {
    /// The bytes of a character cut at the end of the last chunk.
    carry: Vec<u8>,
    /// The first non-white-space character has been seen.
    started: bool,
    failed: bool,
}

impl TextCheck {
    /// Feeds the next chunk; false once the upload cannot be text.
    pub fn feed(&mut self, chunk: &[u8]) -> bool {
        if self.failed {
            return false;
        }
        let joined;
        let bytes = if self.carry.is_empty() {
            chunk
        } else {
            let mut buf = std::mem::take(&mut self.carry);
            buf.extend_from_slice(chunk);
            joined = buf;
            &joined[..]
        };
        let valid = match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(err) if err.error_len().is_none() => {
                // A character cut at the end: keep its bytes for the next chunk.
                let (done, cut) = bytes.split_at(err.valid_up_to());
                self.carry = cut.to_vec();
                std::str::from_utf8(done).unwrap_or_default()
            }
            Err(_) => {
                self.failed = true;
                return false;
            }
        };
        if valid.contains('\0') {
            self.failed = true;
            return false;
        }
        if !self.started
            && let Some(first) = valid
                .chars()
                .find(|c| !c.is_whitespace() && *c != '\u{feff}')
        {
            self.started = true;
            if first == '<' {
                self.failed = true;
                return false;
            }
        }
        true
    }

    /// Whether the whole upload was text (no character left cut).
    pub fn finish(&self) -> bool {
        !self.failed && self.carry.is_empty()
    }
}

/// The name an upload is kept under: path separators, control characters
/// and bidirectional-text controls removed, trimmed, at most 255
/// characters; `file` when nothing is left.
pub fn clean_name(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .filter(|c| !matches!(c, '/' | '\\') && !c.is_control() && !is_bidi_control(*c))
        .collect();
    let cut: String = cleaned.trim().chars().take(MAX_NAME_CHARS).collect();
    let cut = cut.trim();
    if cut.is_empty() || cut == "." || cut == ".." {
        "file".to_string()
    } else {
        cut.to_string()
    }
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_utf8_without_nul_and_not_markup() {
        let mut check = TextCheck::default();
        assert!(check.feed("  hello, ".as_bytes()));
        assert!(check.feed("wörld <b>".as_bytes()));
        assert!(check.finish());

        for bad in [
            &b"\xff\xfe"[..],
            b"a\0b",
            b" \n<svg>",
            "\u{feff}<html>".as_bytes(),
        ] {
            let mut check = TextCheck::default();
            assert!(!(check.feed(bad) && check.finish()), "{bad:?}");
        }
    }

    #[test]
    fn a_character_split_across_chunks_is_text() {
        let bytes = "é".as_bytes();
        let mut check = TextCheck::default();
        assert!(check.feed(&bytes[..1]));
        assert!(!check.finish(), "cut in the middle");
        assert!(check.feed(&bytes[1..]));
        assert!(check.finish());
    }

    #[test]
    fn names_lose_separators_controls_and_bidi_overrides() {
        assert_eq!(clean_name("../../etc/passwd"), "....etcpasswd");
        assert_eq!(clean_name("in\u{202e}gpj.exe"), "ingpj.exe");
        assert_eq!(clean_name("a\r\nb\u{7f}c\u{85}.txt"), "abc.txt");
        assert_eq!(clean_name("  \u{200f} "), "file");
        assert_eq!(clean_name(".."), "file");
        assert_eq!(clean_name(&"x".repeat(300)).chars().count(), 255);
        assert_eq!(clean_name("rapport été.pdf"), "rapport été.pdf");
    }

    #[test]
    fn signatures_decide_not_names() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(Kind::sniff(png), Ok(Some(Kind::Png)));
        assert_eq!(Kind::sniff(b"%PDF-1.7\n"), Ok(Some(Kind::Pdf)));
        assert_eq!(Kind::sniff(b"plain words"), Ok(None));
        let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
        elf.resize(64, 0);
        assert!(Kind::sniff(&elf).is_err());
        assert_eq!(Kind::Text.content_type("Data.CSV"), "text/csv");
        assert_eq!(Kind::Text.content_type("notes.txt"), "text/plain");
        assert_eq!(Kind::Png.content_type("notes.txt"), "image/png");
    }
}
