//! The paper diary (Art. 6): when the recipient has no FirmaLOM app, the ente prints the diary,
//! has it signed by the recipient or a parent, and uploads the scan. This module turns the
//! entries into a real PDF (A4, Italian, standard Helvetica so nothing needs embedding) with a
//! short content hash printed on it, so the uploaded scan can be tied to what was printed.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Europe::Rome;
use diario_domain::{CaseFile, Measure, Phase};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

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
    #[serde(skip)]
    pub generated_at: DateTime<Utc>,
}

impl PaperDiary {
    /// The diary of `phase` with the given entries (in date and time order), labels from the
    /// measure's catalogue, the professionals' names from `names`.
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
                start: e.slot.start.format("%H:%M").to_string(),
                end: e.slot.end.format("%H:%M").to_string(),
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
            generated_at,
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

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 40.0;
const ROWS_PER_PAGE: usize = 32;
const ROW_H: f32 = 15.0;
/// Rows with the professional's name above the fiscal code are taller.
const NAMED_ROWS_PER_PAGE: usize = 24;
const NAMED_ROW_H: f32 = 20.0;
/// Column x positions and widths in characters (Helvetica 8.5 pt is ~4.3 pt per char).
const COLUMNS: [(&str, f32, usize); 7] = [
    ("Data", MARGIN, 11),
    ("Inizio", 95.0, 6),
    ("Fine", 128.0, 6),
    ("Professionista (nome, CF)", 161.0, 17),
    ("Figura", 257.0, 24),
    ("Prestazione", 365.0, 33),
    ("Minuti", 520.0, 6),
];

fn phase_label(p: Phase) -> &'static str {
    match p {
        Phase::I => "I",
        Phase::II => "II",
        Phase::III => "III",
        Phase::IV => "IV",
    }
}

/// WinAnsi (Windows-1252) bytes for the standard fonts; anything else becomes '?'.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            ' '..='~' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '€' => 0x80,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '–' => 0x96,
            '—' => 0x97,
            _ => b'?',
        })
        .collect()
}

fn clip(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(chars.saturating_sub(1)).collect();
        s.push('.');
        s
    }
}

struct Writer<'a> {
    content: &'a mut Content,
}

impl Writer<'_> {
    fn text(&mut self, font: &[u8], size: f32, x: f32, y: f32, text: &str) {
        let bytes = win_ansi(text);
        self.content
            .begin_text()
            .set_font(Name(font), size)
            .next_line(x, y)
            .show(Str(&bytes))
            .end_text();
    }

    fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32) {
        self.content
            .set_line_width(0.6)
            .move_to(x1, y1)
            .line_to(x2, y2)
            .stroke();
    }
}

fn render(diary: &PaperDiary) -> Vec<u8> {
    let named = diary.rows.iter().any(|r| r.professional_name.is_some());
    let (per_page, row_h) = if named {
        (NAMED_ROWS_PER_PAGE, NAMED_ROW_H)
    } else {
        (ROWS_PER_PAGE, ROW_H)
    };
    let chunks: Vec<&[PaperRow]> = if diary.rows.is_empty() {
        vec![&[]]
    } else {
        diary.rows.chunks(per_page).collect()
    };
    let pages = chunks.len();
    let catalog_id = Ref::new(1);
    let tree_id = Ref::new(2);
    let regular_id = Ref::new(3);
    let bold_id = Ref::new(4);
    let page_ids: Vec<Ref> = (0..pages).map(|i| Ref::new(5 + 2 * i as i32)).collect();
    let content_ids: Vec<Ref> = (0..pages).map(|i| Ref::new(6 + 2 * i as i32)).collect();

    let mut pdf = Pdf::new();
    pdf.catalog(catalog_id).pages(tree_id);
    pdf.pages(tree_id)
        .kids(page_ids.iter().copied())
        .count(pages as i32);
    pdf.type1_font(regular_id)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold_id)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));

    let hash = diary.short_hash();
    let generated = diary
        .generated_at
        .with_timezone(&Rome)
        .format("%d/%m/%Y %H:%M")
        .to_string();
    for (i, rows) in chunks.iter().enumerate() {
        let mut page = pdf.page(page_ids[i]);
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
            .parent(tree_id)
            .contents(content_ids[i]);
        page.resources()
            .fonts()
            .pair(Name(b"F1"), regular_id)
            .pair(Name(b"F2"), bold_id);
        page.finish();

        let mut content = Content::new();
        let mut w = Writer {
            content: &mut content,
        };
        let mut y = PAGE_H - MARGIN - 10.0;
        // (font, size, line, space below it)
        let heading: [(&[u8], f32, String, f32); 5] = [
            (
                b"F2",
                15.0,
                "Diario online – attestazione delle prestazioni".to_owned(),
                18.0,
            ),
            (b"F1", 10.0, format!("Misura: {}", diary.measure), 14.0),
            (
                b"F1",
                10.0,
                format!(
                    "Pratica: {}   Fase {}   Ente: {}",
                    diary.case_id,
                    phase_label(diary.phase),
                    diary.ente
                ),
                14.0,
            ),
            (
                b"F1",
                10.0,
                format!("Destinatario (riferimento): {}", diary.recipient_ref),
                14.0,
            ),
            (
                b"F1",
                8.5,
                format!(
                    "Generato il {generated} – pagina {} di {pages} – impronta del contenuto (SHA-256): {hash}",
                    i + 1
                ),
                20.0,
            ),
        ];
        for (font, size, line, below) in &heading {
            w.text(font, *size, MARGIN, y, line);
            y -= below;
        }
        for (title, x, _) in COLUMNS {
            w.text(b"F2", 8.5, x, y, title);
        }
        y -= 5.0;
        w.line(MARGIN, y, PAGE_W - MARGIN, y);
        y -= 12.0;
        for r in rows.iter() {
            let cells = [
                r.date.format("%d/%m/%Y").to_string(),
                r.start.clone(),
                r.end.clone(),
                r.professional.clone(),
                r.figure.clone(),
                r.service.clone(),
                r.minutes.to_string(),
            ];
            for (n, ((_, x, width), cell)) in COLUMNS.iter().zip(cells.iter()).enumerate() {
                match (&r.professional_name, n) {
                    // The professional's name, and the fiscal code under it in smaller type.
                    (Some(name), 3) => {
                        w.text(b"F1", 8.5, *x, y, &clip(name, *width));
                        w.text(b"F1", 6.5, *x, y - 8.0, cell);
                    }
                    _ => w.text(b"F1", 8.5, *x, y, &clip(cell, *width)),
                }
            }
            y -= row_h;
        }
        if i + 1 == pages {
            if diary.rows.is_empty() {
                w.text(b"F1", 9.0, MARGIN, y, "Nessuna prestazione registrata.");
                y -= row_h;
            }
            w.line(MARGIN, y + 8.0, PAGE_W - MARGIN, y + 8.0);
            let total = diary.total_minutes();
            y -= 6.0;
            w.text(
                b"F2",
                10.0,
                MARGIN,
                y,
                &format!(
                    "Totale: {} prestazioni, {} minuti ({} ore e {} minuti)",
                    diary.rows.len(),
                    total,
                    total / 60,
                    total % 60
                ),
            );
            y -= 40.0;
            w.text(
                b"F1",
                10.0,
                MARGIN,
                y,
                "Firma del destinatario o del genitore: ______________________________",
            );
            y -= 28.0;
            w.text(b"F1", 10.0, MARGIN, y, "Data: ____ / ____ / ________");
            y -= 28.0;
            w.text(
                b"F1",
                8.0,
                MARGIN,
                y,
                "Con la firma si conferma che le prestazioni elencate sono state effettivamente ricevute (Regolamento diario online, art. 6).",
            );
        }
        pdf.stream(content_ids[i], &content.finish());
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use chrono::TimeZone;

    use super::*;

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
            generated_at: Utc.with_ymd_and_hms(2026, 3, 30, 10, 0, 0).unwrap(),
        }
    }

    fn pdftotext(pdf: &[u8]) -> String {
        let dir = std::env::temp_dir().join(format!("diario-pdf-{}", Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("diario.pdf");
        std::fs::write(&path, pdf).expect("write pdf");
        let out = Command::new("pdftotext")
            .arg("-layout")
            .arg(&path)
            .arg("-")
            .output()
            .expect("pdftotext (poppler-utils) must be installed: apt-get install poppler-utils");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(out.status.success(), "pdftotext failed: {out:?}");
        String::from_utf8(out.stdout).expect("utf-8 text")
    }

    #[test]
    fn the_paper_diary_pdf_lists_every_entry_and_the_signature_lines() {
        let d = diary(3);
        let pdf = d.render_pdf();
        assert!(pdf.starts_with(b"%PDF-"));
        let text = pdftotext(&pdf);
        for needle in [
            "Diario online",
            "Fase III",
            "Cooperativa Città Aperta",
            "DEST-0042",
            "01/03/2026",
            "02/03/2026",
            "03/03/2026",
            "09:00",
            "10:30",
            "RSSMRA85T10A562S",
            "Mario Rossi",
            "Educatore professionale",
            "Accompagnamento all'inclusione",
            "Totale: 3 prestazioni, 270 minuti (4 ore e 30 minuti)",
            "Firma del destinatario o del genitore",
            "Data:",
            &d.short_hash(),
        ] {
            assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
        }
    }

    #[test]
    fn a_long_diary_spans_pages_with_the_hash_on_each() {
        // Rows with names are taller: 24 a page.
        let d = diary(70);
        let text = pdftotext(&d.render_pdf());
        assert!(text.contains("pagina 1 di 3"), "{text}");
        assert!(text.contains("pagina 3 di 3"), "{text}");
        assert_eq!(text.matches(&d.short_hash()).count(), 3);
        let mut unnamed = diary(70);
        unnamed
            .rows
            .iter_mut()
            .for_each(|r| r.professional_name = None);
        assert!(pdftotext(&unnamed.render_pdf()).contains("pagina 3 di 3"));
        assert!(text.contains("Totale: 70 prestazioni, 6300 minuti (105 ore e 0 minuti)"));
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
    fn win_ansi_keeps_italian_letters_and_the_euro() {
        assert_eq!(
            win_ansi("città €"),
            vec![b'c', b'i', b't', b't', 0xE0, b' ', 0x80]
        );
        assert_eq!(win_ansi("✓"), vec![b'?']);
    }

    #[test]
    fn clipping_marks_cut_text() {
        assert_eq!(clip("educatore professionale", 9), "educator.");
        assert_eq!(clip("breve", 9), "breve");
    }
}
