//! The paper diary (Art. 6): when the recipient has no FirmaLOM app, the ente prints the diary,
//! has it signed by the recipient or a parent, and uploads the scan. This module turns the
//! entries into a real PDF: A4, Italian, the institutional header (Regione Lombardia, FSE+, the
//! measure) on every page, one table row per entry whose cells wrap on word boundaries, the
//! totals and one signature line per confirmer on file, "Pagina X di N" and a short content
//! hash on every page, so the uploaded scan can be tied to what was printed.
//!
//! The PDF embeds subsets of DejaVu Sans ([`font`]) and is tagged (a structure tree of
//! Document → H1, P, Table → TR → TH/TD over marked content; repeated headers, page numbers
//! and rules are artifacts), so screen readers and text extraction read it in order.

mod font;

use chrono::{DateTime, Datelike, NaiveDate, Offset, Timelike, Utc};
use chrono_tz::Europe::Rome;
use diario_domain::{CaseFile, Measure, Phase};
use pdf_writer::types::{ArtifactType, StructRole, TableHeaderScope};
use pdf_writer::{Content, Date, Filter, Finish, Name, Pdf, Rect, Ref, Settings, Str, TextStr};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use font::{Subset, Typeface, deflate};

/// One printed row: one entry of the diary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaperRow {
    pub entry_id: Uuid,
    pub date: NaiveDate,
    pub start: String,
    pub end: String,
    pub professional: String,
    /// "Nome Cognome" of the professional, when recorded (printed above the fiscal code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub professional_name: Option<String>,
    pub figure: String,
    pub service: String,
    pub minutes: u32,
}

/// What the paper diary shows. Everything printed except the generation instant enters the
/// content hash, so two prints of the same entries carry the same hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaperDiary {
    pub case_id: Uuid,
    pub recipient_ref: String,
    pub measure: String,
    pub phase: Phase,
    pub ente: String,
    pub rows: Vec<PaperRow>,
    /// Who may sign (Art. 6), one signature line each: the last 5 characters of each
    /// confirmer's fiscal code, all that is printed (Art. 10, minimisation). Left out of the
    /// hashed JSON when empty, so such diaries keep the hash they had before the field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub confirmers: Vec<String>,
    #[serde(skip)]
    pub generated_at: DateTime<Utc>,
    /// The generated diary's own identifier (the paper request's id), printed with the full
    /// content hash and in the QR code; not part of the hashed content, so a diary's hash does
    /// not depend on which request printed it.
    #[serde(skip)]
    pub paper_id: Option<Uuid>,
}

/// What the QR code of a paper diary says: `diario-online:cartaceo:{paper_id}:{content hash}`.
pub fn qr_payload(paper_id: Uuid, content_hash: &str) -> String {
    format!("diario-online:cartaceo:{paper_id}:{content_hash}")
}

/// The printed form of a fiscal code: its last 5 characters.
fn masked_cf(cf: &str) -> String {
    let chars: Vec<char> = cf.chars().collect();
    chars[chars.len().saturating_sub(5)..].iter().collect()
}

impl PaperDiary {
    /// The diary of `phase` with the given entries (in date and time order), labels from the
    /// measure's catalogue, the professionals' names from `names`, the recipient's
    /// confirmers on file (masked).
    pub fn from_case(
        file: &CaseFile,
        measure: &Measure,
        phase: Phase,
        entry_ids: &[Uuid],
        names: &diario_projections::Names,
        generated_at: DateTime<Utc>,
    ) -> PaperDiary {
        let mut rows: Vec<PaperRow> = entry_ids
            .iter()
            .filter_map(|id| file.entries.get(id))
            .map(|e| PaperRow {
                entry_id: e.id,
                date: e.slot.date,
                start: e.slot.start_hhmm(),
                end: e.slot.end_hhmm(),
                professional: e.professional.to_string(),
                professional_name: names.get(e.professional.as_str()).map(str::to_owned),
                figure: measure
                    .figure(&e.figure)
                    .map(|f| f.name.clone())
                    .unwrap_or_else(|| e.figure.to_string()),
                service: measure
                    .service(&e.service)
                    .map(|s| s.name.clone())
                    .unwrap_or_else(|| e.service.to_string()),
                minutes: e.minutes(),
            })
            .collect();
        rows.sort_by(|a, b| {
            (a.date, &a.start, &a.professional).cmp(&(b.date, &b.start, &b.professional))
        });
        let ente = match phase {
            Phase::I => file.asst.clone(),
            _ => file.provider.clone(),
        };
        PaperDiary {
            case_id: file.case_id,
            recipient_ref: file.recipient.pseudonym.clone(),
            measure: measure.name.clone(),
            phase,
            ente,
            rows,
            confirmers: file
                .recipient
                .confirmers
                .iter()
                .map(|cf| masked_cf(cf.as_str()))
                .collect(),
            generated_at,
            paper_id: None,
        }
    }

    pub fn total_minutes(&self) -> u32 {
        self.rows.iter().map(|r| r.minutes).sum()
    }

    /// Hex SHA-256 of the printed content (canonical JSON of everything but the print time).
    pub fn content_hash(&self) -> String {
        // Strings, ids and dates only: serialising cannot fail.
        let bytes = serde_json::to_vec(self).expect("a paper diary serialises");
        hex::encode(Sha256::digest(&bytes))
    }

    /// The short form printed on every page.
    pub fn short_hash(&self) -> String {
        self.content_hash()[..16].to_owned()
    }

    /// Renders the PDF.
    pub fn render_pdf(&self) -> Vec<u8> {
        render(self)
    }
}

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 40.0;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
/// The body stops here; the page number sits below.
const BOTTOM: f32 = MARGIN + 12.0;
const FOOTER_Y: f32 = MARGIN - 6.0;
const CELL_PAD: f32 = 3.0;
/// Type sizes: table text, the fiscal code under a name, table headings.
const CELL: f32 = 8.0;
const CF: f32 = 7.0;
const HEADING: f32 = 7.5;
const REGION: &str = "Regione Lombardia – FSE+ 2021-2027";
const TITLE: &str = "Diario cartaceo – attestazione delle prestazioni";
const SIGNATURE: &str = "Firma del destinatario o del genitore";
const BLANKS: &str = "______________________________   Data: __/__/____";

/// Table columns: heading, width (they add up to the content width), right-aligned.
const COLUMNS: [(&str, f32, bool); 7] = [
    ("Data", 56.0, false),
    ("Inizio", 30.0, false),
    ("Fine", 30.0, false),
    ("Professionista (nome, CF)", 94.0, false),
    ("Figura", 90.0, false),
    ("Prestazione", 175.0, false),
    ("Minuti", 40.0, true),
];

fn phase_label(p: Phase) -> &'static str {
    match p {
        Phase::I => "I",
        Phase::II => "II",
        Phase::III => "III",
        Phase::IV => "IV",
    }
}

fn line_height(size: f32) -> f32 {
    size * 1.25
}

/// Breaks `text` into lines no wider than `width` at `size`, between words; only a word wider
/// than a whole line is split, between characters. A line that ends between two words keeps
/// the space (invisible, not measured), so text extraction and screen readers read the words
/// apart: the lines concatenated give the text back, its runs of whitespace collapsed.
fn wrap(face: Typeface, size: f32, text: &str, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if face.width(&candidate, size) <= width {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            line.push(' ');
            lines.push(std::mem::take(&mut line));
        }
        for c in word.chars() {
            line.push(c);
            if line.chars().nth(1).is_some() && face.width(&line, size) > width {
                line.pop();
                lines.push(std::mem::take(&mut line));
                line.push(c);
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Who a marked-content sequence belongs to.
#[derive(Debug, Clone, Copy)]
enum Tag {
    /// A structure element (index into `Layout::elems`).
    Elem(usize),
    /// Not real content: repeated headers, page numbers, rules.
    Artifact(ArtifactType),
}

#[derive(Debug)]
enum Op {
    Text {
        face: Typeface,
        size: f32,
        x: f32,
        y: f32,
        text: String,
    },
    Line {
        x1: f32,
        x2: f32,
        y: f32,
        width: f32,
    },
    Fill {
        rect: Rect,
        gray: f32,
    },
}

/// One marked-content sequence.
#[derive(Debug)]
struct Mark {
    tag: Tag,
    ops: Vec<Op>,
}

#[derive(Debug, Default)]
struct Page {
    marks: Vec<Mark>,
    /// The structure element of each marked-content id (MCID) of the page, in order.
    parents: Vec<usize>,
}

#[derive(Debug)]
enum Kid {
    Elem(usize),
    Content { page: usize, mcid: i32 },
}

#[derive(Debug)]
struct Elem {
    role: StructRole,
    parent: Option<usize>,
    kids: Vec<Kid>,
}

/// A paragraph to place: face, size, text, space above it.
struct Para {
    face: Typeface,
    size: f32,
    text: String,
    above: f32,
}

impl Para {
    fn new(face: Typeface, size: f32, text: impl Into<String>, above: f32) -> Para {
        Para {
            face,
            size,
            text: text.into(),
            above,
        }
    }

    fn lines(&self) -> Vec<String> {
        wrap(self.face, self.size, &self.text, CONTENT_W)
    }

    fn height(&self) -> f32 {
        self.above + self.lines().len() as f32 * line_height(self.size)
    }
}

/// One table cell: its lines (face, size, text).
struct Cell {
    lines: Vec<(Typeface, f32, String)>,
}

impl Cell {
    fn wrapped(face: Typeface, size: f32, text: &str, column: usize) -> Cell {
        let width = COLUMNS[column].1 - 2.0 * CELL_PAD;
        Cell {
            lines: wrap(face, size, text, width)
                .into_iter()
                .map(|l| (face, size, l))
                .collect(),
        }
    }

    fn height(&self) -> f32 {
        self.lines.iter().map(|(_, s, _)| line_height(*s)).sum()
    }
}

fn row_cells(r: &PaperRow) -> Vec<Cell> {
    let mut professional = match &r.professional_name {
        Some(name) => Cell::wrapped(Typeface::Regular, CELL, name, 3),
        None => Cell { lines: Vec::new() },
    };
    // The name and the code under it are two words to a reader.
    if let Some((_, _, last)) = professional.lines.last_mut() {
        last.push(' ');
    }
    let size = if r.professional_name.is_some() {
        CF
    } else {
        CELL
    };
    professional
        .lines
        .extend(Cell::wrapped(Typeface::Regular, size, &r.professional, 3).lines);
    vec![
        Cell::wrapped(
            Typeface::Regular,
            CELL,
            &r.date.format("%d/%m/%Y").to_string(),
            0,
        ),
        Cell::wrapped(Typeface::Regular, CELL, &r.start, 1),
        Cell::wrapped(Typeface::Regular, CELL, &r.end, 2),
        professional,
        Cell::wrapped(Typeface::Regular, CELL, &r.figure, 4),
        Cell::wrapped(Typeface::Regular, CELL, &r.service, 5),
        Cell::wrapped(Typeface::Regular, CELL, &r.minutes.to_string(), 6),
    ]
}

fn row_height(cells: &[Cell]) -> f32 {
    cells.iter().map(Cell::height).fold(0.0, f32::max) + 2.0 * CELL_PAD
}

/// The diary laid out on pages, with its structure tree.
struct Layout<'a> {
    diary: &'a PaperDiary,
    header: Vec<(StructRole, Para)>,
    pages: Vec<Page>,
    elems: Vec<Elem>,
    /// The current baseline cursor (top of the free space) on the last page.
    y: f32,
}

impl<'a> Layout<'a> {
    fn new(diary: &'a PaperDiary) -> Layout<'a> {
        let generated = diary
            .generated_at
            .with_timezone(&Rome)
            .format("%d/%m/%Y %H:%M")
            .to_string();
        let header = vec![
            (StructRole::P, Para::new(Typeface::Bold, 9.0, REGION, 0.0)),
            (
                StructRole::P,
                Para::new(
                    Typeface::Regular,
                    9.0,
                    format!("Misura: {}", diary.measure),
                    0.0,
                ),
            ),
            (StructRole::H1, Para::new(Typeface::Bold, 14.0, TITLE, 10.0)),
            (
                StructRole::P,
                Para::new(
                    Typeface::Regular,
                    9.5,
                    format!(
                        "Pratica: {} – Fase {}",
                        diary.case_id,
                        phase_label(diary.phase)
                    ),
                    4.0,
                ),
            ),
            (
                StructRole::P,
                Para::new(Typeface::Regular, 9.5, format!("Ente: {}", diary.ente), 0.0),
            ),
            (
                StructRole::P,
                Para::new(
                    Typeface::Regular,
                    9.5,
                    format!("Destinatario (pseudonimo): {}", diary.recipient_ref),
                    0.0,
                ),
            ),
            (
                StructRole::P,
                Para::new(
                    Typeface::Regular,
                    8.0,
                    format!(
                        "Generato il {generated} – impronta del contenuto (SHA-256): {}",
                        diary.short_hash()
                    ),
                    2.0,
                ),
            ),
        ];
        Layout {
            diary,
            header,
            pages: Vec::new(),
            elems: Vec::new(),
            y: 0.0,
        }
    }

    fn elem(&mut self, role: StructRole, parent: Option<usize>) -> usize {
        let id = self.elems.len();
        self.elems.push(Elem {
            role,
            parent,
            kids: Vec::new(),
        });
        if let Some(p) = parent {
            self.elems[p].kids.push(Kid::Elem(id));
        }
        id
    }

    fn mark(&mut self, tag: Tag, ops: Vec<Op>) {
        let page = self.pages.len() - 1;
        let p = &mut self.pages[page];
        if let Tag::Elem(e) = tag {
            let mcid = p.parents.len() as i32;
            p.parents.push(e);
            self.elems[e].kids.push(Kid::Content { page, mcid });
        }
        p.marks.push(Mark { tag, ops });
    }

    /// A tagged element `role` under `parent`, or a pagination artifact without a parent.
    fn tag(&mut self, role: StructRole, parent: Option<usize>) -> Tag {
        match parent {
            Some(p) => Tag::Elem(self.elem(role, Some(p))),
            None => Tag::Artifact(ArtifactType::Pagination),
        }
    }

    fn rule(&mut self, y: f32, width: f32) {
        self.mark(
            Tag::Artifact(ArtifactType::Layout),
            vec![Op::Line {
                x1: MARGIN,
                x2: PAGE_W - MARGIN,
                y,
                width,
            }],
        );
    }

    fn paragraph(&mut self, tag: Tag, para: &Para) {
        self.y -= para.above;
        let mut ops = Vec::new();
        for line in para.lines() {
            self.y -= line_height(para.size);
            ops.push(Op::Text {
                face: para.face,
                size: para.size,
                x: MARGIN,
                y: self.y + 0.26 * para.size,
                text: line,
            });
        }
        self.mark(tag, ops);
    }

    /// Starts a page with the institutional header: tagged content on the first page
    /// (children of `doc`), a pagination artifact on the following ones.
    fn new_page(&mut self, doc: Option<usize>) {
        self.pages.push(Page::default());
        self.y = PAGE_H - MARGIN;
        let header = std::mem::take(&mut self.header);
        for (n, (role, para)) in header.iter().enumerate() {
            let tag = self.tag(*role, doc);
            self.paragraph(tag, para);
            if n == 1 {
                self.y -= 4.0;
                self.rule(self.y, 0.8);
            }
        }
        self.header = header;
        self.y -= 8.0;
    }

    /// A table row at the cursor: tagged as a TR of `table` with TH/TD cells, or (repeated
    /// headings) an artifact.
    fn row(&mut self, table: Option<usize>, cells: &[Cell], heading: bool) {
        let top = self.y;
        let height = row_height(cells);
        if heading {
            self.mark(
                Tag::Artifact(ArtifactType::Layout),
                vec![Op::Fill {
                    rect: Rect::new(MARGIN, top - height, PAGE_W - MARGIN, top),
                    gray: 0.9,
                }],
            );
        }
        let tr = table.map(|t| self.elem(StructRole::TR, Some(t)));
        let mut x = MARGIN;
        for (cell, (_, width, right)) in cells.iter().zip(COLUMNS) {
            let role = if heading {
                StructRole::TH
            } else {
                StructRole::TD
            };
            let tag = self.tag(role, tr);
            let mut cursor = top - CELL_PAD;
            let mut ops = Vec::new();
            for (face, size, text) in &cell.lines {
                cursor -= line_height(*size);
                let tx = if right {
                    x + width - CELL_PAD - face.width(text.trim_end(), *size)
                } else {
                    x + CELL_PAD
                };
                ops.push(Op::Text {
                    face: *face,
                    size: *size,
                    x: tx,
                    y: cursor + 0.26 * size,
                    text: text.clone(),
                });
            }
            self.mark(tag, ops);
            x += width;
        }
        self.y = top - height;
        self.rule(self.y, if heading { 0.8 } else { 0.3 });
    }

    fn heading_cells() -> Vec<Cell> {
        COLUMNS
            .iter()
            .enumerate()
            .map(|(n, (title, _, _))| Cell::wrapped(Typeface::Bold, HEADING, title, n))
            .collect()
    }

    fn table_heading(&mut self, table: Option<usize>) {
        self.rule(self.y, 0.8);
        self.row(table, &Layout::heading_cells(), true);
    }

    /// The totals and the signature block, kept together on one page.
    fn closing(&self) -> Vec<Para> {
        let d = self.diary;
        let total = d.total_minutes();
        let mut paras = Vec::new();
        if d.rows.is_empty() {
            paras.push(Para::new(
                Typeface::Regular,
                9.0,
                "Nessuna prestazione registrata.",
                6.0,
            ));
        }
        paras.push(Para::new(
            Typeface::Bold,
            10.0,
            format!(
                "Totale: {} prestazioni, {} minuti ({} ore e {} minuti)",
                d.rows.len(),
                total,
                total / 60,
                total % 60
            ),
            8.0,
        ));
        if d.confirmers.is_empty() {
            paras.push(Para::new(
                Typeface::Regular,
                9.5,
                format!("{SIGNATURE}: {BLANKS}"),
                30.0,
            ));
        } else {
            paras.push(Para::new(
                Typeface::Bold,
                9.5,
                format!("{SIGNATURE} (uno dei confermanti registrati)"),
                18.0,
            ));
            for cf in &d.confirmers {
                paras.push(Para::new(
                    Typeface::Regular,
                    9.5,
                    format!("Firma del confermante (CF …{cf}): {BLANKS}"),
                    26.0,
                ));
            }
        }
        paras.push(Para::new(
            Typeface::Regular,
            8.0,
            "Con la firma si conferma che le prestazioni elencate sono state effettivamente ricevute (Regolamento diario online, art. 6).",
            22.0,
        ));
        paras
    }

    /// The diary's identifier and full content hash, printed and as a QR code, so that the
    /// scan of the signed paper names the generated diary it signs.
    fn verification(&mut self, doc: usize, paper_id: Uuid) {
        const QR_SIZE: f32 = 96.0;
        let hash = self.diary.content_hash();
        let para = Para::new(
            Typeface::Regular,
            8.0,
            format!(
                "Identificativo del diario: {paper_id} – impronta SHA-256 del contenuto: {hash}"
            ),
            14.0,
        );
        if self.y - para.height() - QR_SIZE - 6.0 < BOTTOM {
            self.new_page(None);
        }
        let tag = Tag::Elem(self.elem(StructRole::P, Some(doc)));
        self.paragraph(tag, &para);
        let Ok(code) = qrcode::QrCode::with_error_correction_level(
            qr_payload(paper_id, &hash).as_bytes(),
            qrcode::EcLevel::M,
        ) else {
            return;
        };
        let width = code.width();
        // Four modules of quiet zone on every side.
        let module = QR_SIZE / (width + 8) as f32;
        let top = self.y - 6.0;
        let left = MARGIN;
        let mut ops = vec![Op::Fill {
            rect: Rect::new(left, top - QR_SIZE, left + QR_SIZE, top),
            gray: 1.0,
        }];
        for (i, color) in code.to_colors().iter().enumerate() {
            if *color != qrcode::Color::Dark {
                continue;
            }
            let (row, col) = (i / width, i % width);
            let x = left + (col + 4) as f32 * module;
            let y = top - (row + 4 + 1) as f32 * module;
            ops.push(Op::Fill {
                rect: Rect::new(x, y, x + module, y + module),
                gray: 0.0,
            });
        }
        // The identifier and the hash are printed just above: the code repeats them.
        self.mark(Tag::Artifact(ArtifactType::Layout), ops);
        self.y = top - QR_SIZE;
    }

    fn lay_out(mut self) -> Layout<'a> {
        let doc = self.elem(StructRole::Document, None);
        self.new_page(Some(doc));
        let table = self.elem(StructRole::Table, Some(doc));
        self.table_heading(Some(table));
        let mut on_page = 0;
        for r in &self.diary.rows {
            let cells = row_cells(r);
            if on_page > 0 && self.y - row_height(&cells) < BOTTOM {
                self.new_page(None);
                self.table_heading(None);
                on_page = 0;
            }
            self.row(Some(table), &cells, false);
            on_page += 1;
        }
        let closing = self.closing();
        let needed: f32 = closing.iter().map(Para::height).sum();
        if self.y - needed < BOTTOM {
            self.new_page(None);
        }
        for para in &closing {
            // Only a block taller than a page (many confirmers) is split, between paragraphs.
            if self.y - para.height() < BOTTOM {
                self.new_page(None);
            }
            let tag = Tag::Elem(self.elem(StructRole::P, Some(doc)));
            self.paragraph(tag, para);
        }
        if let Some(paper_id) = self.diary.paper_id {
            self.verification(doc, paper_id);
        }
        let pages = self.pages.len();
        for i in 0..pages {
            let text = format!("Pagina {} di {pages}", i + 1);
            let size = 8.0;
            let op = Op::Text {
                face: Typeface::Regular,
                size,
                x: PAGE_W - MARGIN - Typeface::Regular.width(&text, size),
                y: FOOTER_Y,
                text,
            };
            self.pages[i].marks.push(Mark {
                tag: Tag::Artifact(ArtifactType::Pagination),
                ops: vec![op],
            });
        }
        self
    }
}

/// Sequential object ids.
struct Ids(i32);

impl Ids {
    fn next(&mut self) -> Ref {
        self.0 += 1;
        Ref::new(self.0)
    }
}

fn escape_xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn xmp(title: &str, created: &str) -> String {
    let title = escape_xml(title);
    format!(
        r#"<?xpacket begin="{bom}" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:pdf="http://ns.adobe.com/pdf/1.3/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/">
   <dc:format>application/pdf</dc:format>
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{title}</rdf:li></rdf:Alt></dc:title>
   <dc:language><rdf:Bag><rdf:li>it-IT</rdf:li></rdf:Bag></dc:language>
   <pdf:Producer>Diario Online</pdf:Producer>
   <xmp:CreatorTool>Diario Online</xmp:CreatorTool>
   <xmp:CreateDate>{created}</xmp:CreateDate>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="r"?>"#,
        bom = '\u{feff}'
    )
}

fn render(diary: &PaperDiary) -> Vec<u8> {
    let layout = Layout::new(diary).lay_out();
    let mut ids = Ids(0);
    let catalog_id = ids.next();
    let tree_id = ids.next();
    let root_id = ids.next();
    let info_id = ids.next();
    let meta_id = ids.next();
    let regular_id = ids.next();
    let bold_id = ids.next();
    let page_ids: Vec<Ref> = layout.pages.iter().map(|_| ids.next()).collect();
    let content_ids: Vec<Ref> = layout.pages.iter().map(|_| ids.next()).collect();
    let parents_ids: Vec<Ref> = layout.pages.iter().map(|_| ids.next()).collect();
    let elem_ids: Vec<Ref> = layout.elems.iter().map(|_| ids.next()).collect();

    let title = format!(
        "Diario cartaceo – pratica {} fase {}",
        diary.case_id,
        phase_label(diary.phase)
    );
    let local = diary.generated_at.with_timezone(&Rome);
    let offset = local.offset().fix().local_minus_utc() / 60;

    // Compact serialisation: the structure tree has one element per table cell.
    let mut pdf = Pdf::with_settings(Settings { pretty: false });
    let hash = Sha256::digest(diary.content_hash().as_bytes());
    pdf.set_file_id((hash[..16].to_vec(), hash[..16].to_vec()));
    {
        let mut catalog = pdf.catalog(catalog_id);
        catalog
            .pages(tree_id)
            .lang(TextStr("it-IT"))
            .metadata(meta_id)
            .pair(Name(b"StructTreeRoot"), root_id);
        catalog.viewer_preferences().display_doc_title(true);
        catalog.mark_info().marked(true);
    }
    pdf.document_info(info_id)
        .title(TextStr(&title))
        .subject(TextStr(&diary.measure))
        .creator(TextStr("Diario Online"))
        .producer(TextStr("Diario Online"))
        .creation_date(
            Date::new(local.year() as u16)
                .month(local.month() as u8)
                .day(local.day() as u8)
                .hour(local.hour() as u8)
                .minute(local.minute() as u8)
                .second(local.second() as u8)
                .utc_offset_hour((offset / 60) as i8)
                .utc_offset_minute((offset % 60).unsigned_abs() as u8),
        );
    let xmp = xmp(&title, &local.format("%Y-%m-%dT%H:%M:%S%:z").to_string());
    pdf.metadata(meta_id, xmp.as_bytes());

    // The structure tree.
    {
        let mut root = pdf
            .indirect(root_id)
            .start::<pdf_writer::writers::StructTreeRoot>();
        root.child(elem_ids[0]);
        {
            let mut tree = root.parent_tree();
            let mut nums = tree.nums();
            for (i, id) in parents_ids.iter().enumerate() {
                nums.insert(i as i32, *id);
            }
        }
        root.parent_tree_next_key(layout.pages.len() as i32);
    }
    for (page, id) in layout.pages.iter().zip(&parents_ids) {
        pdf.indirect(*id)
            .array()
            .items(page.parents.iter().map(|e| elem_ids[*e]));
    }
    for (n, e) in layout.elems.iter().enumerate() {
        let mut s = pdf.struct_element(elem_ids[n]);
        s.kind(e.role)
            .parent(e.parent.map_or(root_id, |p| elem_ids[p]));
        if e.role == StructRole::TH {
            s.attributes()
                .push()
                .table()
                .scope(TableHeaderScope::Column);
        }
        // A leaf's marked content is on one page (rows never break): `/Pg` on the element
        // and bare MCIDs keep the tree small.
        let pages: Vec<usize> = e
            .kids
            .iter()
            .filter_map(|k| match k {
                Kid::Content { page, .. } => Some(*page),
                Kid::Elem(_) => None,
            })
            .collect();
        let one_page = pages.first().filter(|p| pages.iter().all(|q| q == *p));
        if let Some(page) = one_page {
            s.page(page_ids[*page]);
        }
        let mut kids = s.children();
        for kid in &e.kids {
            match kid {
                Kid::Elem(k) => {
                    kids.struct_element(elem_ids[*k]);
                }
                Kid::Content { mcid, .. } if one_page.is_some() => {
                    kids.marked_content_id(*mcid);
                }
                Kid::Content { page, mcid } => {
                    kids.marked_content_ref()
                        .page(page_ids[*page])
                        .marked_content_id(*mcid);
                }
            }
        }
    }

    pdf.pages(tree_id)
        .kids(page_ids.iter().copied())
        .count(page_ids.len() as i32);
    let mut regular = Subset::new(Typeface::Regular);
    let mut bold = Subset::new(Typeface::Bold);
    for (i, page) in layout.pages.iter().enumerate() {
        let mut p = pdf.page(page_ids[i]);
        p.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
            .parent(tree_id)
            .contents(content_ids[i])
            .struct_parents(i as i32);
        p.resources()
            .fonts()
            .pair(Typeface::Regular.resource(), regular_id)
            .pair(Typeface::Bold.resource(), bold_id);
        p.finish();

        let mut content = Content::new();
        let mut mcid = 0;
        for mark in &page.marks {
            match mark.tag {
                Tag::Elem(e) => {
                    content
                        .begin_marked_content_with_properties(layout.elems[e].role.to_name())
                        .properties()
                        .identify(mcid);
                    mcid += 1;
                }
                Tag::Artifact(kind) => {
                    content
                        .begin_marked_content_with_properties(Name(b"Artifact"))
                        .properties()
                        .artifact()
                        .kind(kind);
                }
            }
            for op in &mark.ops {
                match op {
                    Op::Text {
                        face,
                        size,
                        x,
                        y,
                        text,
                    } => {
                        let subset = match face {
                            Typeface::Regular => &mut regular,
                            Typeface::Bold => &mut bold,
                        };
                        let bytes = subset.encode(text);
                        content
                            .begin_text()
                            .set_font(face.resource(), *size)
                            .next_line(*x, *y)
                            .show(Str(&bytes))
                            .end_text();
                    }
                    Op::Line { x1, x2, y, width } => {
                        content
                            .set_line_width(*width)
                            .move_to(*x1, *y)
                            .line_to(*x2, *y)
                            .stroke();
                    }
                    Op::Fill { rect, gray } => {
                        content
                            .set_fill_gray(*gray)
                            .rect(rect.x1, rect.y1, rect.x2 - rect.x1, rect.y2 - rect.y1)
                            .fill_nonzero()
                            .set_fill_gray(0.0);
                    }
                }
            }
            content.end_marked_content();
        }
        let bytes = deflate(&content.finish());
        pdf.stream(content_ids[i], &bytes)
            .filter(Filter::FlateDecode);
    }
    regular.write(&mut pdf, regular_id, &mut || ids.next());
    bold.write(&mut pdf, bold_id, &mut || ids.next());
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use chrono::TimeZone;

    use super::*;

    const LONG_SERVICE: &str = "Colloquio di valutazione multidimensionale con la famiglia e la rete dei servizi territoriali";

    fn diary(rows: usize) -> PaperDiary {
        PaperDiary {
            case_id: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001),
            recipient_ref: "DEST-0042".into(),
            measure: "#UP – Percorsi per crescere alla grande".into(),
            phase: Phase::III,
            ente: "Cooperativa Città Aperta".into(),
            rows: (0..rows)
                .map(|i| PaperRow {
                    entry_id: Uuid::from_u128(i as u128 + 1),
                    date: NaiveDate::from_ymd_opt(2026, 3, 1 + (i % 28) as u32).expect("date"),
                    start: "09:00".into(),
                    end: "10:30".into(),
                    professional: "RSSMRA85T10A562S".into(),
                    professional_name: (i % 2 == 0).then(|| "Mario Rossi".to_owned()),
                    figure: "Educatore professionale".into(),
                    service: if i == 0 {
                        "Accompagnamento all'inclusione".into()
                    } else {
                        "Colloquio".into()
                    },
                    minutes: 90,
                })
                .collect(),
            confirmers: Vec::new(),
            generated_at: Utc.with_ymd_and_hms(2026, 3, 30, 10, 0, 0).unwrap(),
            paper_id: None,
        }
    }

    /// The QR codes of the PDF's pages as `zbarimg` reads them from a 200 dpi rendering.
    fn qr_codes(pdf: &[u8]) -> Vec<String> {
        let dir = std::env::temp_dir().join(format!("diario-qr-{}", Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("diario.pdf");
        std::fs::write(&path, pdf).expect("write pdf");
        let render = Command::new("pdftoppm")
            .args(["-r", "200", "-png"])
            .arg(&path)
            .arg(dir.join("page"))
            .status()
            .expect("pdftoppm (poppler-utils) must be installed");
        assert!(render.success());
        let mut pngs: Vec<_> = std::fs::read_dir(&dir)
            .expect("dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "png"))
            .collect();
        pngs.sort();
        let out = Command::new("zbarimg")
            .args(["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable"])
            .args(&pngs)
            .output()
            .unwrap_or_else(|e| {
                panic!("zbarimg must be installed: apt-get install zbar-tools ({e})")
            });
        let _ = std::fs::remove_dir_all(&dir);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn the_diary_prints_its_identifier_and_full_hash_and_a_qr_code_that_says_them() {
        let mut d = diary(3);
        let paper_id = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0099);
        d.paper_id = Some(paper_id);
        let pdf = d.render_pdf();
        let text = pdftotext(&pdf)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(text.contains(&paper_id.to_string()), "{text}");
        assert!(
            text.contains(&d.content_hash()),
            "the full hash is printed: {text}"
        );
        assert_eq!(
            qr_codes(&pdf),
            vec![qr_payload(paper_id, &d.content_hash())]
        );
        // The identifier is not part of the hashed content.
        let mut other = d.clone();
        other.paper_id = Some(Uuid::nil());
        assert_eq!(other.content_hash(), d.content_hash());
    }

    /// Runs a poppler tool on the PDF; a missing tool fails the test.
    fn poppler(tool: &str, args: &[&str], pdf: &[u8]) -> String {
        let dir = std::env::temp_dir().join(format!("diario-pdf-{}", Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("diario.pdf");
        std::fs::write(&path, pdf).expect("write pdf");
        let mut cmd = Command::new(tool);
        cmd.args(args).arg(&path);
        if tool == "pdftotext" {
            cmd.arg("-");
        }
        let out = cmd.output().unwrap_or_else(|e| {
            panic!("{tool} (poppler-utils) must be installed: apt-get install poppler-utils ({e})")
        });
        let _ = std::fs::remove_dir_all(&dir);
        assert!(out.status.success(), "{tool} failed: {out:?}");
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    fn pdftotext(pdf: &[u8]) -> String {
        poppler("pdftotext", &["-layout"], pdf)
    }

    /// `Key: value` of `pdfinfo`.
    fn info(pdf: &[u8], key: &str) -> String {
        let out = poppler("pdfinfo", &[], pdf);
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}:")))
            .unwrap_or_else(|| panic!("no {key} in pdfinfo output:\n{out}"))
            .trim()
            .to_owned()
    }

    fn pages(pdf: &[u8]) -> usize {
        info(pdf, "Pages").parse().expect("page count")
    }

    #[test]
    fn the_paper_diary_pdf_lists_every_entry_and_the_signature_lines() {
        let d = diary(3);
        let pdf = d.render_pdf();
        assert!(pdf.starts_with(b"%PDF-"));
        let text = pdftotext(&pdf);
        for needle in [
            "Regione Lombardia – FSE+ 2021-2027",
            "Misura: #UP – Percorsi per crescere alla grande",
            "Diario cartaceo – attestazione delle prestazioni",
            "Fase III",
            "01900000-0000-7000-8000-000000000001",
            "Ente: Cooperativa Città Aperta",
            "Destinatario (pseudonimo): DEST-0042",
            "Generato il 30/03/2026 12:00",
            "01/03/2026",
            "02/03/2026",
            "03/03/2026",
            "09:00",
            "10:30",
            "RSSMRA85T10A562S",
            "Mario Rossi",
            "Educatore",
            "professionale",
            "Accompagnamento all'inclusione",
            "Totale: 3 prestazioni, 270 minuti (4 ore e 30 minuti)",
            "Firma del destinatario o del genitore",
            "Data: __/__/____",
            "Pagina 1 di 1",
            &d.short_hash(),
        ] {
            assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
        }
        assert_eq!(pages(&pdf), 1);
        assert!(!text.contains('…'), "nothing is clipped:\n{text}");
    }

    #[test]
    fn a_long_diary_spans_pages_with_the_page_number_and_the_hash_on_each() {
        let d = diary(60);
        let pdf = d.render_pdf();
        let n = pages(&pdf);
        assert!(n >= 2, "60 rows on {n} page(s)");
        let text = pdftotext(&pdf);
        for i in 1..=n {
            assert!(text.contains(&format!("Pagina {i} di {n}")), "{text}");
        }
        assert!(!text.contains(&format!("Pagina {} di", n + 1)));
        assert_eq!(text.matches(&d.short_hash()).count(), n);
        assert_eq!(
            text.matches("Regione Lombardia – FSE+ 2021-2027").count(),
            n
        );
        assert_eq!(text.matches("01/03/2026").count(), 3, "rows 0, 28, 56");
        assert!(text.contains("Totale: 60 prestazioni, 5400 minuti (90 ore e 0 minuti)"));
        // The totals and signatures come after the last row, on the last page.
        let last = text.split('\u{c}').rfind(|p| !p.trim().is_empty());
        assert!(last.is_some_and(|p| p.contains("Totale: 60") && p.contains("Firma del")));
        let mut unnamed = diary(60);
        unnamed
            .rows
            .iter_mut()
            .for_each(|r| r.professional_name = None);
        let unnamed = unnamed.render_pdf();
        assert!(pages(&unnamed) >= 2);
        assert!(pdftotext(&unnamed).contains("Totale: 60 prestazioni"));
    }

    #[test]
    fn fonts_are_embedded_subsets_with_unicode_maps() {
        let out = poppler("pdffonts", &[], &diary(5).render_pdf());
        let fonts: Vec<&str> = out
            .lines()
            .skip_while(|l| !l.starts_with("----"))
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert_eq!(fonts.len(), 2, "{out}");
        for line in &fonts {
            // name type encoding emb sub uni object-id generation
            let cols: Vec<&str> = line.split_whitespace().collect();
            let n = cols.len();
            assert!(n >= 8, "{out}");
            assert_eq!(
                &cols[n - 5..n - 2],
                ["yes", "yes", "yes"],
                "emb sub uni: {line}"
            );
            assert!(
                line.contains("CID TrueType") && line.contains("Identity-H"),
                "{line}"
            );
            let (tag, name) = cols[0].split_once('+').expect("subset tag");
            assert!(
                tag.len() == 6 && tag.chars().all(|c| c.is_ascii_uppercase()),
                "{line}"
            );
            assert!(name.starts_with("DejaVuSans"), "{line}");
        }
        assert!(fonts.iter().any(|l| l.contains("+DejaVuSans-Bold ")));
        assert!(!out.contains("Helvetica"), "{out}");
    }

    #[test]
    fn the_pdf_is_tagged_with_title_language_and_structure() {
        let pdf = diary(4).render_pdf();
        assert_eq!(info(&pdf, "Tagged"), "yes");
        assert_eq!(
            info(&pdf, "Title"),
            "Diario cartaceo – pratica 01900000-0000-7000-8000-000000000001 fase III"
        );
        assert_eq!(info(&pdf, "Producer"), "Diario Online");
        assert!(info(&pdf, "Metadata Stream").starts_with("yes"));
        let raw = String::from_utf8_lossy(&pdf);
        assert!(raw.contains("/Lang(it-IT)"), "catalog language");
        assert!(raw.contains("/ViewerPreferences<</DisplayDocTitle true>>"));
        assert!(raw.contains("/MarkInfo<</Marked true>>"), "mark info");
        let structure = poppler("pdfinfo", &["-struct-text"], &pdf);
        let roles: Vec<&str> = structure
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .map(|r| r.trim_end_matches(':'))
            .collect();
        assert_eq!(roles.first(), Some(&"Document"), "{structure}");
        for role in ["H1", "P", "Table", "TR", "TH", "TD"] {
            assert!(roles.contains(&role), "no {role} in:\n{structure}");
        }
        // Header row plus 4 rows, 7 cells each.
        assert_eq!(
            roles.iter().filter(|r| **r == "TR").count(),
            5,
            "{structure}"
        );
        assert_eq!(roles.iter().filter(|r| **r == "TH").count(), 7);
        assert_eq!(roles.iter().filter(|r| **r == "TD").count(), 28);
        assert!(structure.contains("Diario cartaceo – attestazione delle prestazioni"));
        // Page numbers are artifacts, not content.
        assert!(!structure.contains("Pagina 1 di 1"), "{structure}");
    }

    #[test]
    fn a_long_service_name_wraps_between_words() {
        let mut d = diary(3);
        d.rows[1].service = LONG_SERVICE.into();
        let pdf = d.render_pdf();
        let text = pdftotext(&pdf);
        let words: Vec<&str> = text.split_whitespace().collect();
        for word in LONG_SERVICE.split(' ') {
            assert!(words.contains(&word), "{word:?} cut or missing in:\n{text}");
        }
        // It does not fit one line of its column: it wrapped onto several.
        let lines = text.lines().filter(|l| l.contains("Colloquio di")).count();
        assert_eq!(lines, 1, "{text}");
        assert!(!text.contains(LONG_SERVICE), "expected wrapping:\n{text}");
        // The tagged cell reads whole, in order.
        let structure = poppler("pdfinfo", &["-struct-text"], &pdf);
        assert!(
            structure.contains(&format!("\"{LONG_SERVICE}\"")),
            "{structure}"
        );
        assert!(
            structure.contains("\"Mario Rossi RSSMRA85T10A562S\""),
            "{structure}"
        );
        assert!(
            structure.contains("\"Educatore professionale\""),
            "{structure}"
        );
    }

    #[test]
    fn wrapping_breaks_between_words_and_only_splits_words_wider_than_the_line() {
        let lines = wrap(Typeface::Regular, 8.0, LONG_SERVICE, 169.0);
        assert!(lines.len() >= 2, "{lines:?}");
        assert_eq!(lines.concat(), LONG_SERVICE);
        for l in &lines {
            assert!(Typeface::Regular.width(l.trim_end(), 8.0) <= 169.0, "{l:?}");
        }
        let split = wrap(Typeface::Regular, 8.0, "Neuropsicomotricità", 30.0);
        assert!(split.len() > 1);
        assert_eq!(split.concat(), "Neuropsicomotricità");
        assert_eq!(wrap(Typeface::Regular, 8.0, "", 30.0), vec![String::new()]);
    }

    #[test]
    fn accented_letters_the_euro_and_the_dash_are_extracted() {
        let mut d = diary(2);
        d.ente = "Società Cooperativa Perché – è à ù €".into();
        d.rows[0].figure = "Psicologo dell'età evolutiva".into();
        let text = pdftotext(&d.render_pdf());
        for needle in ["è à ù €", "Società Cooperativa Perché –", "dell'età"] {
            assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
        }
    }

    #[test]
    fn one_signature_line_per_confirmer_with_the_fiscal_code_masked() {
        let mut d = diary(2);
        d.confirmers = vec![masked_cf("BNCLRA80A41F205X"), masked_cf("VRDGPP75C12L219K")];
        assert_eq!(d.confirmers, ["F205X", "L219K"]);
        let text = pdftotext(&d.render_pdf());
        assert_eq!(
            text.matches("Firma del confermante (CF ").count(),
            2,
            "{text}"
        );
        for cf in ["…F205X): ____", "…L219K): ____"] {
            assert!(text.contains(cf), "missing {cf:?} in:\n{text}");
        }
        assert_eq!(text.matches("Data: __/__/____").count(), 2);
        assert!(text.contains("Firma del destinatario o del genitore"));
        assert!(!text.contains("BNCLRA80A41"), "{text}");
        // Without confirmers on file, one line for the recipient or the parent.
        let text = pdftotext(&diary(2).render_pdf());
        assert!(!text.contains("Firma del confermante"));
        assert_eq!(text.matches("Data: __/__/____").count(), 1);
        assert!(text.contains("Firma del destinatario o del genitore: ____"));
    }

    #[test]
    fn a_short_diary_is_small_and_renders_the_same_bytes_every_time() {
        let d = diary(5);
        let pdf = d.render_pdf();
        assert!(pdf.len() < 100 * 1024, "{} bytes", pdf.len());
        assert_eq!(pdf, d.render_pdf());
        let empty = diary(0).render_pdf();
        assert!(pdftotext(&empty).contains("Nessuna prestazione registrata."));
        assert_eq!(pages(&empty), 1);
    }

    #[test]
    fn the_content_hash_ignores_the_print_time_but_not_the_entries() {
        let a = diary(2);
        let mut b = a.clone();
        b.generated_at = Utc.with_ymd_and_hms(2026, 4, 1, 8, 0, 0).unwrap();
        assert_eq!(a.content_hash(), b.content_hash());
        b.rows[1].minutes = 60;
        assert_ne!(a.content_hash(), b.content_hash());
    }

    #[test]
    fn from_case_prints_names_labels_and_the_confirmers_masked() {
        use diario_domain::testing::fixtures as f;
        let mut events = f::case_in_phase(Phase::III, false);
        let slot = f::slot(f::date(2024, 3, 4), "10:00", "11:30");
        events.push(f::recorded(
            f::eid(1),
            Phase::III,
            f::educatore(),
            "educatore_professionale",
            "contrasto_dispersione_scolastica",
            slot,
        ));
        let state = diario_domain::case::fold(&events);
        let file = state.file.as_ref().expect("case opened");
        let names = diario_projections::Names(
            [(
                f::educatore().as_str().to_owned(),
                "Stefano Ferri".to_owned(),
            )]
            .into(),
        );
        let d = PaperDiary::from_case(file, &f::up(), Phase::III, &[f::eid(1)], &names, f::t0());
        // The parent on file, CLMMRC78P10F205F: only the last 5 characters are kept.
        assert_eq!(d.confirmers, ["F205F"]);
        assert_eq!(d.recipient_ref, "UP-MI-000123");
        assert_eq!(d.rows.len(), 1);
        assert_eq!(d.rows[0].minutes, 90);
        let text = pdftotext(&d.render_pdf());
        for needle in [
            "Destinatario (pseudonimo): UP-MI-000123",
            "Stefano Ferri",
            "FRRSFN75M22B157W",
            "04/03/2024",
            "10:00",
            "11:30",
            "Firma del confermante (CF …F205F): ____",
            "Firma del destinatario o del genitore",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
        }
        assert!(!text.contains("CLMMRC78P10"), "{text}");
    }

    #[test]
    fn confirmers_enter_the_hash_only_when_there_are_some() {
        let a = diary(2);
        let json = serde_json::to_string(&a).expect("json");
        assert!(!json.contains("confirmers"), "{json}");
        let mut b = a.clone();
        b.confirmers = vec!["A562S".into()];
        assert_ne!(a.content_hash(), b.content_hash());
        assert_eq!(masked_cf("RSSMRA85T10A562S"), "A562S");
        assert_eq!(masked_cf("ABC"), "ABC");
    }
}
