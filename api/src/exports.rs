//! Downloads for Italian spreadsheets, from one [`Table`]: CSV as Excel and LibreOffice open it
//! in Italy (`;` separator, decimal comma, UTF-8 with BOM, CRLF, Italian headers; written by
//! the `csv` crate) and XLSX (written by `rust_xlsxwriter`, numbers as numbers with a euro or
//! hours format). A text cell that a spreadsheet would read as a formula (starting with `=`,
//! `+`, `-`, `@`, a tab or a carriage return) is written with a leading apostrophe in the CSV
//! (OWASP, "CSV injection"); XLSX text cells are never formulas.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::ApiError;

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    /// Money in integer cents, shown in euros with two decimals.
    Euro(i64),
    /// A duration in minutes, shown in hours with two decimals.
    Hours(i64),
    Empty,
}

/// A sheet: its title, the column headers, the rows and an optional totals row.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The sheet's name (at most 31 characters in XLSX).
    pub title: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    /// Written last, its first cell "Totale".
    pub totals: Option<Vec<Cell>>,
}

/// `1234,56` from 123456 (hundredths), with the sign.
fn hundredths(v: i64) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    format!("{sign}{},{:02}", a / 100, a % 100)
}

/// Minutes as hundredths of an hour, rounded half up (90 → 150: "1,50").
fn hour_hundredths(minutes: i64) -> i64 {
    let scaled = minutes * 100;
    let q = scaled.div_euclid(60);
    if scaled.rem_euclid(60) * 2 >= 60 {
        q + 1
    } else {
        q
    }
}

/// A text a spreadsheet would take for a formula gets a leading apostrophe.
fn neutralise(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

fn csv_text(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => neutralise(s),
        Cell::Int(n) => n.to_string(),
        Cell::Euro(cents) => hundredths(*cents),
        Cell::Hours(minutes) => hundredths(hour_hundredths(*minutes)),
        Cell::Empty => String::new(),
    }
}

/// The table as CSV for Italian spreadsheets.
pub fn csv_it(table: &Table) -> Result<Vec<u8>, ApiError> {
    let mut w = csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(csv::Terminator::CRLF)
        .from_writer(b"\xEF\xBB\xBF".to_vec());
    let internal = |e: csv::Error| ApiError::Internal(Box::new(e));
    w.write_record(table.headers.iter().map(|h| neutralise(h)))
        .map_err(internal)?;
    for row in table.rows.iter().chain(table.totals.as_ref()) {
        w.write_record(row.iter().map(csv_text)).map_err(internal)?;
    }
    w.into_inner()
        .map_err(|e| ApiError::Internal(e.to_string().into()))
}

/// The table as an XLSX workbook of one sheet.
pub fn xlsx(table: &Table) -> Result<Vec<u8>, ApiError> {
    xlsx_book(std::slice::from_ref(table))
}

/// The tables as an XLSX workbook, one sheet each, in order.
pub fn xlsx_book(tables: &[Table]) -> Result<Vec<u8>, ApiError> {
    let internal = |e: rust_xlsxwriter::XlsxError| ApiError::Internal(Box::new(e));
    let mut book = rust_xlsxwriter::Workbook::new();
    for table in tables {
        sheet(&mut book, table)?;
    }
    book.save_to_buffer().map_err(internal)
}

fn sheet(book: &mut rust_xlsxwriter::Workbook, table: &Table) -> Result<(), ApiError> {
    use rust_xlsxwriter::Format;
    let internal = |e: rust_xlsxwriter::XlsxError| ApiError::Internal(Box::new(e));
    let sheet = book.add_worksheet();
    let name: String = table
        .title
        .chars()
        .filter(|c| !"[]:*?/\\".contains(*c))
        .take(31)
        .collect();
    sheet.set_name(&name).map_err(internal)?;
    let bold = Format::new().set_bold();
    let euro = Format::new().set_num_format("#,##0.00 \"€\"");
    let hours = Format::new().set_num_format("0.00");
    let euro_bold = euro.clone().set_bold();
    let hours_bold = hours.clone().set_bold();
    for (c, h) in table.headers.iter().enumerate() {
        let c = u16::try_from(c).map_err(|e| ApiError::Internal(Box::new(e)))?;
        sheet
            .write_string_with_format(0, c, h, &bold)
            .map_err(internal)?;
        sheet
            .set_column_width(c, (h.chars().count() + 2).clamp(10, 40) as f64)
            .map_err(internal)?;
    }
    let mut r: u32 = 1;
    let rows = table.rows.iter().map(|row| (row, false));
    for (row, total) in rows.chain(table.totals.iter().map(|t| (t, true))) {
        for (c, cell) in row.iter().enumerate() {
            let c = u16::try_from(c).map_err(|e| ApiError::Internal(Box::new(e)))?;
            match cell {
                Cell::Text(s) if total => sheet.write_string_with_format(r, c, s, &bold),
                Cell::Text(s) => sheet.write_string(r, c, s),
                Cell::Int(n) if total => sheet.write_number_with_format(r, c, *n as f64, &bold),
                Cell::Int(n) => sheet.write_number(r, c, *n as f64),
                Cell::Euro(cents) => sheet.write_number_with_format(
                    r,
                    c,
                    *cents as f64 / 100.0,
                    if total { &euro_bold } else { &euro },
                ),
                Cell::Hours(minutes) => sheet.write_number_with_format(
                    r,
                    c,
                    hour_hundredths(*minutes) as f64 / 100.0,
                    if total { &hours_bold } else { &hours },
                ),
                Cell::Empty => continue,
            }
            .map_err(internal)?;
        }
        r += 1;
    }
    sheet.set_freeze_panes(1, 0).map_err(internal)?;
    Ok(())
}

/// Which download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CSV for Italian spreadsheets.
    CsvIt,
    Xlsx,
}

/// `tables` as an XLSX download named `{name}.xlsx`, one sheet each.
pub fn download_book(tables: &[Table], name: &str) -> Result<Response, ApiError> {
    attachment(
        xlsx_book(tables)?,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &format!("{name}.xlsx"),
    )
}

fn attachment(body: Vec<u8>, content_type: &'static str, file: &str) -> Result<Response, ApiError> {
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `table` as a download named `{name}.csv` or `{name}.xlsx`.
pub fn download(table: &Table, format: Format, name: &str) -> Result<Response, ApiError> {
    let (body, content_type, extension) = match format {
        Format::CsvIt => (csv_it(table)?, "text/csv; charset=utf-8", "csv"),
        Format::Xlsx => (
            xlsx(table)?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
    };
    attachment(body, content_type, &format!("{name}.{extension}"))
}

/// The cost report's lines as a table: one line per ATS, provider, case, month and figure,
/// with names next to the codes and the totals.
pub async fn cost_table(
    state: &crate::AppState,
    report: &diario_projections::CostReport,
) -> Result<Table, ApiError> {
    let (registry, _) = state.handler.organisations().await?;
    let org = |code: &str| {
        registry
            .get(code)
            .map_or_else(|| code.to_owned(), |o| o.name.clone())
    };
    let catalogue = state.handler.catalogue();
    let figure = |id: &str| {
        catalogue
            .iter()
            .find_map(|m| {
                m.figure(&diario_domain::FigureId::new(id))
                    .map(|f| f.name.clone())
            })
            .unwrap_or_else(|| id.to_owned())
    };
    let mut pseudonyms = std::collections::HashMap::new();
    for case_id in report.lines.iter().map(|l| l.case_id) {
        if let std::collections::hash_map::Entry::Vacant(v) = pseudonyms.entry(case_id) {
            let (case, _) = state.handler.load_case(case_id).await?;
            v.insert(
                case.file
                    .map_or_else(|| case_id.to_string(), |f| f.recipient.pseudonym),
            );
        }
    }
    let text = |s: String| Cell::Text(s);
    let rows = report
        .lines
        .iter()
        .map(|l| {
            vec![
                text(org(&l.ats)),
                text(org(&l.provider)),
                text(pseudonyms[&l.case_id].clone()),
                text(l.case_id.to_string()),
                text(l.period.clone()),
                text(figure(&l.figure)),
                Cell::Int(l.entries),
                Cell::Hours(l.confirmed_minutes),
                l.unit_cost_cents.map_or(Cell::Empty, Cell::Euro),
                Cell::Euro(l.cost_cents),
                text(status_label(&l.status).to_owned()),
                text(org(&l.ente)),
            ]
        })
        .collect::<Vec<_>>();
    // The flat amounts per output (a measure that pays outputs, not hours): no month, hours
    // nor hourly cost.
    let rows = rows
        .into_iter()
        .chain(report.outputs.iter().map(|o| {
            vec![
                text(org(&o.ats)),
                text(org(&o.provider)),
                text(o.recipient_pseudonym.clone()),
                text(o.case_id.to_string()),
                Cell::Empty,
                text(format!("Importo forfettario: {}", o.output)),
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
                Cell::Euro(o.amount_cents),
                text(output_status_label(&o.status).to_owned()),
                text(org(&o.ente)),
            ]
        }))
        .collect();
    let mut totals = vec![text(if report.outputs.is_empty() {
        "Totale".into()
    } else {
        "Totale (ore confermate e importi forfettari dovuti)".into()
    })];
    totals.extend(std::iter::repeat_n(Cell::Empty, 5));
    totals.extend([
        Cell::Int(report.lines.iter().map(|l| l.entries).sum()),
        Cell::Hours(report.total_confirmed_minutes),
        Cell::Empty,
        Cell::Euro(report.total_cost_cents + report.outputs_due_cents),
        Cell::Empty,
        Cell::Empty,
    ]);
    Ok(Table {
        title: "Costi".into(),
        headers: [
            "ATS",
            "Ente erogatore",
            "Pratica (pseudonimo)",
            "Identificativo pratica",
            "Mese",
            "Figura professionale",
            "Prestazioni confermate",
            "Ore confermate",
            "Costo orario (€)",
            "Importo (€)",
            "Stato",
            "Ente che rendiconta",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows,
        totals: Some(totals),
    })
}

/// The Italian label of a cost line's status.
pub fn status_label(status: &str) -> &'static str {
    match status {
        "claimable" => "rendicontabile (diario consegnato all'ATS)",
        "confirmed-open" => "confermato, diario non ancora consegnato",
        "awaiting-check" => "in attesa di verifica della scansione da parte dell'ATS",
        "scan-refused" => "scansione respinta dall'ATS: nuova scansione da caricare",
        _ => "non confermato",
    }
}

/// The Italian label of a flat amount's status.
pub fn output_status_label(status: &str) -> &'static str {
    match status {
        "due" => "dovuto",
        "not_yet_due" => "non ancora dovuto",
        _ => "non dovuto",
    }
}

/// A case list as a table, with the totals.
pub async fn case_table(
    state: &crate::AppState,
    cases: &[diario_projections::CaseSummary],
) -> Result<Table, ApiError> {
    let (registry, _) = state.handler.organisations().await?;
    let org = |code: &str| {
        registry
            .get(code)
            .map_or_else(|| code.to_owned(), |o| o.name.clone())
    };
    let day = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&chrono_tz::Europe::Rome)
            .format("%d/%m/%Y")
            .to_string()
    };
    let status = |s: diario_projections::CaseStatus| match s {
        diario_projections::CaseStatus::Open => "aperta",
        diario_projections::CaseStatus::Completed => "completata",
        diario_projections::CaseStatus::Interrupted => "interrotta",
    };
    let rows = cases
        .iter()
        .map(|c| {
            vec![
                Cell::Text(c.recipient_pseudonym.clone()),
                Cell::Text(c.case_id.to_string()),
                Cell::Text(c.measure_id.clone()),
                Cell::Text(org(&c.asst)),
                Cell::Text(org(&c.provider)),
                Cell::Text(status(c.status).to_owned()),
                Cell::Text(day(c.opened_at)),
                c.last_entry_at.map_or(Cell::Empty, |t| Cell::Text(day(t))),
                Cell::Hours(c.minutes),
                Cell::Hours(c.confirmed_minutes),
                Cell::Euro(c.confirmed_cost_cents),
            ]
        })
        .collect();
    let mut totals = vec![Cell::Text("Totale".into()), Cell::Int(cases.len() as i64)];
    totals.extend(std::iter::repeat_n(Cell::Empty, 6));
    totals.extend([
        Cell::Hours(cases.iter().map(|c| c.minutes).sum()),
        Cell::Hours(cases.iter().map(|c| c.confirmed_minutes).sum()),
        Cell::Euro(cases.iter().map(|c| c.confirmed_cost_cents).sum()),
    ]);
    Ok(Table {
        title: "Pratiche".into(),
        headers: [
            "Pratica (pseudonimo)",
            "Identificativo pratica",
            "Misura",
            "ASST",
            "Ente erogatore",
            "Stato",
            "Aperta il",
            "Ultima prestazione registrata",
            "Ore registrate",
            "Ore confermate",
            "Costo confermato (€)",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows,
        totals: Some(totals),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table {
            title: "Costi".into(),
            headers: vec!["Figura".into(), "Ore".into(), "Importo (€)".into()],
            rows: vec![
                vec![
                    Cell::Text("Psicologo".into()),
                    Cell::Hours(90),
                    Cell::Euro(6750),
                ],
                vec![
                    Cell::Text("=HYPERLINK(\"http://x\")".into()),
                    Cell::Hours(20),
                    Cell::Euro(-5),
                ],
            ],
            totals: Some(vec![
                Cell::Text("Totale".into()),
                Cell::Hours(110),
                Cell::Euro(6745),
            ]),
        }
    }

    #[test]
    fn the_csv_is_for_italian_spreadsheets() {
        let bytes = csv_it(&table()).expect("csv");
        assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 BOM");
        let text = String::from_utf8(bytes[3..].to_vec()).expect("utf-8");
        assert_eq!(
            text,
            "Figura;Ore;Importo (€)\r\nPsicologo;1,50;67,50\r\n\"'=HYPERLINK(\"\"http://x\"\")\";0,33;-0,05\r\nTotale;1,83;67,45\r\n"
        );
    }

    #[test]
    fn formulas_are_neutralised_numbers_are_not() {
        assert_eq!(neutralise("=1+1"), "'=1+1");
        assert_eq!(neutralise("+39 02"), "'+39 02");
        assert_eq!(neutralise("@SUM"), "'@SUM");
        assert_eq!(neutralise("-2"), "'-2");
        assert_eq!(neutralise("Rossi"), "Rossi");
        assert_eq!(csv_text(&Cell::Euro(-150)), "-1,50");
    }

    #[test]
    fn hours_round_half_up_to_the_hundredth() {
        assert_eq!(hour_hundredths(60), 100);
        assert_eq!(hour_hundredths(20), 33);
        assert_eq!(hour_hundredths(40), 67);
        assert_eq!(hour_hundredths(1), 2);
        assert_eq!(hour_hundredths(0), 0);
    }

    #[test]
    fn the_xlsx_is_a_zip_workbook() {
        let bytes = xlsx(&table()).expect("xlsx");
        assert!(bytes.starts_with(b"PK"), "a zip archive");
    }
}
