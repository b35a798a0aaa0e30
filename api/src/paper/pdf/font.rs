//! The fonts of the paper diary: DejaVu Sans and DejaVu Sans Bold (Bitstream Vera licence,
//! `api/assets/fonts/LICENSE-DejaVu.txt`), embedded as subsets in the PDF.
//!
//! Each font is written as a Type0 font with Identity-H encoding over a CIDFontType2 whose
//! glyph program (FontFile2) keeps only the glyphs the document uses. The subsetter renumbers
//! the glyphs contiguously (and makes CID = new glyph id), so the content stream, the `/W`
//! widths and the ToUnicode CMap all speak the new ids, and `/CIDToGIDMap` is `/Identity`.
//! Widths come from the original font's `hmtx`, so what the layout measures is what is drawn.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::LazyLock;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Filter, Finish, Name, Pdf, Rect, Ref, Str};
use sha2::{Digest, Sha256};
use subsetter::GlyphRemapper;
use ttf_parser::{Face, GlyphId};

const REGULAR_TTF: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
const BOLD_TTF: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans-Bold.ttf");

/// A parsed font program.
pub(crate) struct FontProgram {
    /// PostScript name, without the subset tag.
    name: &'static str,
    data: &'static [u8],
    face: Face<'static>,
}

fn parse(name: &'static str, data: &'static [u8]) -> FontProgram {
    // The bundled files are known-good TrueType fonts; a parse failure is a build defect.
    let face = Face::parse(data, 0).expect("the bundled DejaVu font parses");
    FontProgram { name, data, face }
}

static REGULAR: LazyLock<FontProgram> = LazyLock::new(|| parse("DejaVuSans", REGULAR_TTF));
static BOLD: LazyLock<FontProgram> = LazyLock::new(|| parse("DejaVuSans-Bold", BOLD_TTF));

/// The two faces the diary uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Typeface {
    Regular,
    Bold,
}

impl Typeface {
    pub(crate) fn program(self) -> &'static FontProgram {
        match self {
            Typeface::Regular => &REGULAR,
            Typeface::Bold => &BOLD,
        }
    }

    /// The resource name in the pages' font dictionary.
    pub(crate) fn resource(self) -> Name<'static> {
        match self {
            Typeface::Regular => Name(b"F1"),
            Typeface::Bold => Name(b"F2"),
        }
    }

    /// Width of `text` set at `size` points (advance widths, no kerning).
    pub(crate) fn width(self, text: &str, size: f32) -> f32 {
        let p = self.program();
        text.chars().map(|c| p.advance(p.glyph(c))).sum::<f32>() * size / 1000.0
    }
}

impl FontProgram {
    /// The glyph of `c`; characters the font lacks print as '?' (DejaVu covers Italian,
    /// the euro sign and typographic punctuation).
    fn glyph(&self, c: char) -> u16 {
        self.face
            .glyph_index(c)
            .or_else(|| self.face.glyph_index('?'))
            .map_or(0, |g| g.0)
    }

    /// Advance width in thousandths of an em.
    fn advance(&self, glyph: u16) -> f32 {
        let units = f32::from(self.face.units_per_em());
        let adv = self.face.glyph_hor_advance(GlyphId(glyph)).unwrap_or(0);
        f32::from(adv) * 1000.0 / units
    }

    fn to_em(&self, v: i16) -> f32 {
        f32::from(v) * 1000.0 / f32::from(self.face.units_per_em())
    }
}

/// The glyphs of one face used by a document, in order of first use.
pub(crate) struct Subset {
    face: Typeface,
    remapper: GlyphRemapper,
    /// New glyph id → the character it was drawn for (for ToUnicode).
    chars: BTreeMap<u16, char>,
}

impl Subset {
    pub(crate) fn new(face: Typeface) -> Subset {
        Subset {
            face,
            remapper: GlyphRemapper::new(),
            chars: BTreeMap::new(),
        }
    }

    /// The Identity-H bytes (big-endian new glyph ids) for `text`.
    pub(crate) fn encode(&mut self, text: &str) -> Vec<u8> {
        let p = self.face.program();
        let mut out = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            let new = self.remapper.remap(p.glyph(c));
            self.chars.entry(new).or_insert(c);
            out.extend_from_slice(&new.to_be_bytes());
        }
        out
    }

    /// Writes the Type0 font `id` and its descendants, using `next` to allocate object ids.
    pub(crate) fn write(&self, pdf: &mut Pdf, id: Ref, next: &mut impl FnMut() -> Ref) {
        let p = self.face.program();
        let cid_id = next();
        let descriptor_id = next();
        let file_id = next();
        let cmap_id = next();

        // The subset program (CID = new glyph id). Should the subsetter ever fail, embed the
        // whole font instead, larger but still right: then a CIDToGIDMap stream maps the CIDs
        // back to the original glyph ids, and the name carries no subset tag.
        let subset = subsetter::subset(p.data, 0, &self.remapper).ok();
        let name = match subset {
            Some(_) => format!("{}+{}", self.tag(), p.name),
            None => p.name.to_owned(),
        };
        let name = name.as_bytes();

        pdf.type0_font(id)
            .base_font(Name(name))
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid_id)
            .to_unicode(cmap_id);

        let mut cid = pdf.cid_font(cid_id);
        cid.subtype(CidFontType::Type2)
            .base_font(Name(name))
            .system_info(SystemInfo {
                registry: Str(b"Adobe"),
                ordering: Str(b"Identity"),
                supplement: 0,
            })
            .font_descriptor(descriptor_id)
            .default_width(p.advance(0));
        cid.widths()
            .consecutive(0, self.remapper.remapped_gids().map(|g| p.advance(g)));
        let gid_map_id = subset.is_none().then(&mut *next);
        match gid_map_id {
            Some(map) => cid.cid_to_gid_map_stream(map),
            None => cid.cid_to_gid_map_predefined(Name(b"Identity")),
        };
        cid.finish();
        if let Some(map) = gid_map_id {
            let bytes: Vec<u8> = self
                .remapper
                .remapped_gids()
                .flat_map(u16::to_be_bytes)
                .collect();
            pdf.stream(map, &deflate(&bytes))
                .filter(Filter::FlateDecode);
        }

        let face = &p.face;
        let bbox = face.global_bounding_box();
        let bold = self.face == Typeface::Bold;
        let cap = face.capital_height().unwrap_or(face.ascender());
        pdf.font_descriptor(descriptor_id)
            .name(Name(name))
            .flags(FontFlags::SYMBOLIC)
            .bbox(Rect::new(
                p.to_em(bbox.x_min),
                p.to_em(bbox.y_min),
                p.to_em(bbox.x_max),
                p.to_em(bbox.y_max),
            ))
            .italic_angle(face.italic_angle())
            .ascent(p.to_em(face.ascender()))
            .descent(p.to_em(face.descender()))
            .cap_height(p.to_em(cap))
            .stem_v(if bold { 140.0 } else { 80.0 })
            .font_file2(file_id);

        let program = subset.as_deref().unwrap_or(p.data);
        let compressed = deflate(program);
        pdf.stream(file_id, &compressed)
            .filter(Filter::FlateDecode)
            .pair(Name(b"Length1"), program.len() as i32);

        let mut cmap = UnicodeCmap::new(
            Name(b"Custom"),
            SystemInfo {
                registry: Str(b"Adobe"),
                ordering: Str(b"UCS"),
                supplement: 0,
            },
        );
        for (&glyph, &c) in &self.chars {
            cmap.pair(glyph, c);
        }
        let cmap = deflate(cmap.finish().as_slice());
        pdf.stream(cmap_id, &cmap).filter(Filter::FlateDecode);
    }

    /// The six-uppercase-letter subset tag, derived from the glyph set (deterministic, so the
    /// same diary always renders to the same bytes).
    fn tag(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.face.program().name.as_bytes());
        for g in self.remapper.remapped_gids() {
            h.update(g.to_be_bytes());
        }
        h.finalize()
            .iter()
            .take(6)
            .map(|b| char::from(b'A' + b % 26))
            .collect()
    }
}

/// zlib (FlateDecode) compression of a stream.
pub(crate) fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing into a Vec cannot fail.
    e.write_all(data).expect("in-memory compression");
    e.finish().expect("in-memory compression")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_come_from_the_font() {
        // DejaVu Sans: space 318/1000 em, 'm' 974/1000 em.
        assert!((Typeface::Regular.width(" ", 10.0) - 3.18).abs() < 0.01);
        assert!((Typeface::Regular.width("m", 10.0) - 9.74).abs() < 0.01);
        assert!(Typeface::Bold.width("città", 10.0) > Typeface::Regular.width("città", 10.0));
    }

    #[test]
    fn encoding_renumbers_glyphs_in_order_of_first_use() {
        let mut s = Subset::new(Typeface::Regular);
        assert_eq!(s.encode("aba"), vec![0, 1, 0, 2, 0, 1]);
        assert_eq!(s.chars.get(&2), Some(&'b'));
        assert_eq!(s.tag().len(), 6);
        assert!(s.tag().chars().all(|c| c.is_ascii_uppercase()));
    }
}
