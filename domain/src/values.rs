//! Value types shared by every rule: fiscal codes (Art. 4: every action is attributable to a
//! person's CF), phases (Art. 1/3), time slots (Art. 5: date, start and end, real
//! elapsed minutes), money in integer cents, and civil-date arithmetic in Europe/Rome.

use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike,
    Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The time zone in which the regulation's dates and "days" are counted.
pub const ROME: Tz = chrono_tz::Europe::Rome;

// ---------------------------------------------------------------------------------------------
// Fiscal code
// ---------------------------------------------------------------------------------------------

/// Why a string is not a valid codice fiscale.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FiscalCodeError {
    /// A CF has exactly 16 characters (after removing an optional `TINIT-` prefix).
    #[error("il codice fiscale deve avere 16 caratteri, ne ha {0}")]
    Length(usize),
    /// A character is not allowed at that position (letters/digits/omocodia letters).
    #[error("codice fiscale: carattere non valido in posizione {0}")]
    Character(usize),
    /// The month letter (position 9) is not one of `ABCDEHLMPRST`.
    #[error("codice fiscale: lettera del mese non valida")]
    Month,
    /// The day of birth (positions 10-11) is outside 1-31 or 41-71.
    #[error("codice fiscale: giorno di nascita non valido")]
    Day,
    /// The check character (position 16) does not match.
    #[error("codice fiscale: carattere di controllo errato (atteso {expected})")]
    CheckCharacter {
        /// The check character computed from the first 15 characters.
        expected: char,
    },
}

/// An Italian codice fiscale of a natural person, validated (layout, month, day, omocodia
/// letters and check character) and normalised to upper case without the SPID `TINIT-` prefix.
///
/// Art. 4: every registration, opening and closing must be attributable to a person; the CF
/// is that identity throughout the domain.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FiscalCode(String);

const ODD_VALUES: [u32; 26] = [
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
];
const OMOCODIA: &str = "LMNPQRSTUV";
const MONTHS: &str = "ABCDEHLMPRST";

fn omocodia_digit(c: char) -> Option<u32> {
    if let Some(d) = c.to_digit(10) {
        return Some(d);
    }
    OMOCODIA.find(c).map(|i| i as u32)
}

impl FiscalCode {
    /// Parses and validates a CF; accepts lower case, surrounding spaces and the `TINIT-`
    /// prefix used by SPID identity providers.
    pub fn parse(input: &str) -> Result<Self, FiscalCodeError> {
        let trimmed = input.trim().to_ascii_uppercase();
        let code = trimmed.strip_prefix("TINIT-").unwrap_or(&trimmed);
        let chars: Vec<char> = code.chars().collect();
        if chars.len() != 16 {
            return Err(FiscalCodeError::Length(chars.len()));
        }
        for (i, c) in chars.iter().enumerate() {
            let ok = match i {
                0..=5 | 8 | 11 | 15 => c.is_ascii_uppercase(),
                6 | 7 | 9 | 10 | 12 | 13 | 14 => c.is_ascii_digit() || OMOCODIA.contains(*c),
                _ => false,
            };
            if !ok {
                return Err(FiscalCodeError::Character(i + 1));
            }
        }
        if !MONTHS.contains(chars[8]) {
            return Err(FiscalCodeError::Month);
        }
        let day = match (omocodia_digit(chars[9]), omocodia_digit(chars[10])) {
            (Some(a), Some(b)) => a * 10 + b,
            _ => return Err(FiscalCodeError::Character(10)),
        };
        if !((1..=31).contains(&day) || (41..=71).contains(&day)) {
            return Err(FiscalCodeError::Day);
        }
        let expected = check_character(&chars[..15]);
        if chars[15] != expected {
            return Err(FiscalCodeError::CheckCharacter { expected });
        }
        Ok(FiscalCode(chars.into_iter().collect()))
    }

    /// The normalised 16-character code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_character(first15: &[char]) -> char {
    let mut total = 0u32;
    for (i, c) in first15.iter().enumerate() {
        let value = if let Some(d) = c.to_digit(10) {
            d
        } else {
            (*c as u32).saturating_sub('A' as u32)
        };
        // Positions are 1-based in the decree: odd positions use the conversion table.
        total += if i % 2 == 0 {
            ODD_VALUES.get(value as usize).copied().unwrap_or(0)
        } else {
            value
        };
    }
    char::from(b'A' + (total % 26) as u8)
}

impl fmt::Display for FiscalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for FiscalCode {
    type Err = FiscalCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FiscalCode::parse(s)
    }
}

impl TryFrom<String> for FiscalCode {
    type Error = FiscalCodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        FiscalCode::parse(&s)
    }
}

impl From<FiscalCode> for String {
    fn from(cf: FiscalCode) -> String {
        cf.0
    }
}

// ---------------------------------------------------------------------------------------------
// Phase
// ---------------------------------------------------------------------------------------------

/// One of the four phases of the pathway (Art. 1): I assessment + PI, II observation + PDI,
/// III delivery of the PDI, IV follow-up. Serialised as the number 1-4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum Phase {
    /// Fase I – valutazione multidimensionale e PI.
    I = 1,
    /// Fase II – osservazione ed elaborazione del PDI.
    II = 2,
    /// Fase III – attuazione del PDI.
    III = 3,
    /// Fase IV – follow-up.
    IV = 4,
}

/// A phase number outside 1-4.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("la fase deve essere 1, 2, 3 o 4 (Art. 1), non {0}")]
pub struct PhaseError(pub u8);

impl Phase {
    /// All phases in order.
    pub const ALL: [Phase; 4] = [Phase::I, Phase::II, Phase::III, Phase::IV];

    /// The phase number 1-4.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// The phase before this one, if any.
    pub fn previous(self) -> Option<Phase> {
        match self {
            Phase::I => None,
            Phase::II => Some(Phase::I),
            Phase::III => Some(Phase::II),
            Phase::IV => Some(Phase::III),
        }
    }
}

impl TryFrom<u8> for Phase {
    type Error = PhaseError;
    fn try_from(n: u8) -> Result<Self, Self::Error> {
        match n {
            1 => Ok(Phase::I),
            2 => Ok(Phase::II),
            3 => Ok(Phase::III),
            4 => Ok(Phase::IV),
            other => Err(PhaseError(other)),
        }
    }
}

impl From<Phase> for u8 {
    fn from(p: Phase) -> u8 {
        p.number()
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::I => "I",
            Phase::II => "II",
            Phase::III => "III",
            Phase::IV => "IV",
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Organisations
// ---------------------------------------------------------------------------------------------

/// The two kinds of ente that keep a diary (Art. 3): the ASST registers phase I, the provider
/// (Ente Erogatore) phases II-IV. Each has its own responsabile (Art. 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ente {
    /// Azienda Socio Sanitaria Territoriale.
    Asst,
    /// Ente Erogatore.
    Provider,
}

impl Ente {
    /// Both enti.
    pub const ALL: [Ente; 2] = [Ente::Asst, Ente::Provider];
}

impl fmt::Display for Ente {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ente::Asst => "asst",
            Ente::Provider => "provider",
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Time slot
// ---------------------------------------------------------------------------------------------

/// Why a time slot is invalid (Art. 5, point iv). The duration rule (half an hour or its
/// multiples) is the measure's and is checked by the case, on the real elapsed minutes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeSlotError {
    /// A clock time that is not `HH:MM` (or `HH:MM:00`); `field` is `start` or `end`.
    #[error("orario non leggibile: indicare l'ora come HH:MM (per esempio 09:15)")]
    Unparseable {
        /// `start` or `end`.
        field: &'static str,
    },
    /// The end must come after the start on the same day (24:00 ends the day).
    #[error(
        "Art. 5: l'orario di fine deve seguire l'inizio nello stesso giorno (24:00 chiude la giornata)"
    )]
    EndNotAfterStart,
    /// A clock time the change to summer time skips in Europe/Rome (e.g. 02:30 on the last
    /// Sunday of March).
    #[error("l'orario {time} del {date} non esiste a Roma: il passaggio all'ora legale lo salta")]
    NonexistentLocalTime {
        /// `start` or `end`.
        field: &'static str,
        /// The clock time as given.
        time: String,
        /// The date.
        date: NaiveDate,
    },
}

impl TimeSlotError {
    /// The field the refusal is about (`start` or `end`).
    pub fn field(&self) -> &'static str {
        match self {
            TimeSlotError::Unparseable { field }
            | TimeSlotError::NonexistentLocalTime { field, .. } => field,
            TimeSlotError::EndNotAfterStart => "end",
        }
    }
}

/// When a service was delivered: civil date in Europe/Rome, start and end clock times (`HH:MM`,
/// any minute), the end after the start on the same day; an end of `24:00` closes the day and
/// is kept as `00:00` ([`TimeSlot::ends_at_midnight`]). Its [`minutes`](TimeSlot::minutes) are
/// the real time elapsed in Europe/Rome, so a night with a change of time counts what really
/// passed; a clock time the change to summer time skips is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawTimeSlot")]
pub struct TimeSlot {
    /// Civil date of delivery (Europe/Rome).
    pub date: NaiveDate,
    /// Start clock time.
    #[serde(with = "hhmm")]
    pub start: NaiveTime,
    /// End clock time; `00:00` stands for 24:00 (the end of `date`).
    #[serde(with = "hhmm_end")]
    pub end: NaiveTime,
}

#[derive(Deserialize)]
struct RawTimeSlot {
    date: NaiveDate,
    #[serde(with = "hhmm")]
    start: NaiveTime,
    #[serde(with = "hhmm_end")]
    end: NaiveTime,
}

impl TryFrom<RawTimeSlot> for TimeSlot {
    type Error = TimeSlotError;
    fn try_from(raw: RawTimeSlot) -> Result<Self, Self::Error> {
        TimeSlot::new(raw.date, raw.start, raw.end)
    }
}

/// The instants a Rome clock time on `date` may denote, ascending: none in the spring gap, two
/// in the repeated autumn hour, one otherwise. No allocation: slots are read on every command
/// (overlaps and totals walk all of a case's entries).
fn instants(date: NaiveDate, time: NaiveTime) -> Instants {
    let utc = |t: DateTime<Tz>| t.with_timezone(&Utc);
    match ROME.from_local_datetime(&date.and_time(time)) {
        LocalResult::Single(t) => Instants([Some(utc(t)), None]),
        LocalResult::Ambiguous(a, b) => {
            let (a, b) = (utc(a), utc(b));
            Instants([Some(a.min(b)), (a != b).then(|| a.max(b))])
        }
        LocalResult::None => Instants([None, None]),
    }
}

/// At most two instants, ascending (see [`instants`]).
#[derive(Clone, Copy)]
struct Instants([Option<DateTime<Utc>>; 2]);

impl Instants {
    fn is_empty(self) -> bool {
        self.0[0].is_none()
    }

    fn iter(self) -> impl Iterator<Item = DateTime<Utc>> {
        self.0.into_iter().flatten()
    }
}

/// Rome is never more than two hours from UTC, so two slots whose local times lie further
/// apart than this cannot share an instant.
const LOCAL_MARGIN: chrono::TimeDelta = chrono::TimeDelta::hours(3);

impl TimeSlot {
    /// Builds a validated slot: whole minutes, both clock times existing in Europe/Rome on
    /// `date`, the end after the start (`end` 00:00 = 24:00).
    pub fn new(date: NaiveDate, start: NaiveTime, end: NaiveTime) -> Result<Self, TimeSlotError> {
        for (field, t) in [("start", start), ("end", end)] {
            if t.second() != 0 || t.nanosecond() != 0 {
                return Err(TimeSlotError::Unparseable { field });
            }
        }
        let slot = TimeSlot { date, start, end };
        // An end of 00:00 is midnight (24:00), except for a slot starting at 00:00 too.
        if end == start || (!slot.ends_at_midnight() && end <= start) {
            return Err(TimeSlotError::EndNotAfterStart);
        }
        for (field, d, t) in [
            ("start", date, start),
            ("end", slot.end_local().date(), slot.end_local().time()),
        ] {
            if instants(d, t).is_empty() {
                return Err(TimeSlotError::NonexistentLocalTime {
                    field,
                    time: t.format("%H:%M").to_string(),
                    date: d,
                });
            }
        }
        if slot.interval().is_none() {
            return Err(TimeSlotError::EndNotAfterStart);
        }
        Ok(slot)
    }

    /// From `HH:MM` strings (`24:00` accepted as an end).
    pub fn parse(date: NaiveDate, start: &str, end: &str) -> Result<Self, TimeSlotError> {
        let s = hhmm::parse(start).ok_or(TimeSlotError::Unparseable { field: "start" })?;
        let e = hhmm_end::parse(end).ok_or(TimeSlotError::Unparseable { field: "end" })?;
        TimeSlot::new(date, s, e)
    }

    /// Whether the slot ends at 24:00 (kept as `end` 00:00).
    pub fn ends_at_midnight(&self) -> bool {
        self.end == NaiveTime::MIN
    }

    /// The start as `HH:MM`.
    pub fn start_hhmm(&self) -> String {
        self.start.format("%H:%M").to_string()
    }

    /// The end as `HH:MM`, `24:00` at midnight.
    pub fn end_hhmm(&self) -> String {
        hhmm_end::format(self.end)
    }

    /// The instants the slot runs between. A clock time of the repeated autumn hour may denote
    /// two instants: the slot takes the shortest positive reading, never counting more than
    /// certainly passed. `None` if no reading is positive.
    pub fn interval(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let end = self.end_local();
        let mut best: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
        let ends = instants(end.date(), end.time());
        for s in instants(self.date, self.start).iter() {
            for e in ends.iter() {
                if e > s && best.is_none_or(|(bs, be)| e - s < be - bs) {
                    best = Some((s, e));
                }
            }
        }
        best
    }

    /// Duration in minutes: the real time elapsed in Europe/Rome.
    pub fn minutes(&self) -> u32 {
        self.interval()
            .map(|(s, e)| u32::try_from((e - s).num_minutes()).unwrap_or(0))
            .unwrap_or(0)
    }

    /// Whether two slots share any instant (touching slots, e.g. 9-10 and 10-11, do not).
    pub fn overlaps(&self, other: &TimeSlot) -> bool {
        // Far apart on the local clock: no instant in common (the exact check below converts
        // four clock times to instants). A slot lies within its civil day, so two slots two
        // or more days apart are at least 24 hours apart (an integer comparison first).
        if (self.date.num_days_from_ce() - other.date.num_days_from_ce()).abs() >= 2
            || self.start_local() >= other.end_local() + LOCAL_MARGIN
            || other.start_local() >= self.end_local() + LOCAL_MARGIN
        {
            return false;
        }
        match (self.interval(), other.interval()) {
            (Some((s1, e1)), Some((s2, e2))) => s1 < e2 && s2 < e1,
            _ => false,
        }
    }

    /// Local (Europe/Rome) date-time at which the service started.
    pub fn start_local(&self) -> NaiveDateTime {
        self.date.and_time(self.start)
    }

    /// Local (Europe/Rome) date-time at which the service ended (the next day's 00:00 for an
    /// end at 24:00).
    pub fn end_local(&self) -> NaiveDateTime {
        if self.ends_at_midnight() {
            add_civil_days(self.date, 1).and_time(NaiveTime::MIN)
        } else {
            self.date.and_time(self.end)
        }
    }

    /// The instant at which the service ended.
    pub fn end_instant(&self) -> DateTime<Utc> {
        self.interval()
            .map(|(_, e)| e)
            .unwrap_or_else(|| resolve_local(self.end_local()))
    }
}

/// `HH:MM` serde for clock times; also accepts `HH:MM:SS` on input.
pub mod hhmm {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialises as `HH:MM`.
    pub fn serialize<S: Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.format("%H:%M").to_string())
    }

    /// Parses `HH:MM` or `HH:MM:SS`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).ok_or_else(|| serde::de::Error::custom("orario non leggibile: usare HH:MM"))
    }

    /// `HH:MM` or `HH:MM:SS`, two digits each.
    pub fn parse(s: &str) -> Option<NaiveTime> {
        let two = |b: &[u8]| b.iter().all(u8::is_ascii_digit);
        let b = s.as_bytes();
        let shaped = (b.len() == 5 || (b.len() == 8 && b[5] == b':' && two(&b[6..8])))
            && b[2] == b':'
            && two(&b[0..2])
            && two(&b[3..5]);
        if !shaped {
            return None;
        }
        NaiveTime::parse_from_str(s, "%H:%M")
            .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M:%S"))
            .ok()
    }
}

/// `HH:MM` serde for an end time, where `24:00` (kept as 00:00) ends the day.
pub mod hhmm_end {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialises as `HH:MM`, 00:00 as `24:00`.
    pub fn serialize<S: Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*t))
    }

    /// Parses `HH:MM`, `HH:MM:SS` or `24:00`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).ok_or_else(|| serde::de::Error::custom("orario non leggibile: usare HH:MM"))
    }

    /// An end time: `24:00` (or `24:00:00`) is 00:00, otherwise as [`super::hhmm::parse`].
    pub fn parse(s: &str) -> Option<NaiveTime> {
        match s {
            "24:00" | "24:00:00" => Some(NaiveTime::MIN),
            _ => super::hhmm::parse(s),
        }
    }

    /// `HH:MM`, 00:00 as `24:00`.
    pub fn format(t: NaiveTime) -> String {
        if t == NaiveTime::MIN {
            "24:00".to_owned()
        } else {
            t.format("%H:%M").to_string()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Civil dates in Europe/Rome
// ---------------------------------------------------------------------------------------------

/// The civil date in Europe/Rome of an instant (Art. 5 counts days on the calendar).
pub fn civil_date(instant: DateTime<Utc>) -> NaiveDate {
    instant.with_timezone(&ROME).date_naive()
}

/// The local Europe/Rome date-time of an instant.
pub fn civil_datetime(instant: DateTime<Utc>) -> NaiveDateTime {
    instant.with_timezone(&ROME).naive_local()
}

/// `date` plus `days` civil days (saturating at the end of the calendar).
pub fn add_civil_days(date: NaiveDate, days: u32) -> NaiveDate {
    date.checked_add_days(Days::new(u64::from(days)))
        .unwrap_or(NaiveDate::MAX)
}

/// Number of civil days from `from` to `to` (negative if `to` is earlier).
pub fn civil_days_between(from: NaiveDate, to: NaiveDate) -> i64 {
    (to - from).num_days()
}

/// The instant that is `days` civil days after `instant` at the same Rome clock time.
///
/// A day is a calendar day in Europe/Rome, not 24 hours: across a DST change the result is
/// 23 or 25 hours later. When the clock time does not exist (spring gap) the first valid
/// instant after it is used; when it is ambiguous (autumn) the later one, in favour of the
/// person who has to act before the deadline.
pub fn add_civil_days_to_instant(instant: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    let local = civil_datetime(instant);
    let target_date = add_civil_days(local.date(), days);
    let target = target_date.and_time(local.time());
    resolve_local(target)
}

/// Resolves a Rome local date-time to an instant (see [`add_civil_days_to_instant`]).
pub fn resolve_local(local: NaiveDateTime) -> DateTime<Utc> {
    use chrono::LocalResult;
    match ROME.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(_, later) => later.with_timezone(&Utc),
        LocalResult::None => {
            let shifted = local + chrono::Duration::hours(1);
            match ROME.from_local_datetime(&shifted) {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
                LocalResult::None => DateTime::<Utc>::from_naive_utc_and_offset(local, Utc),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Money and identifiers
// ---------------------------------------------------------------------------------------------

/// An amount of euro in integer cents. Money is never a float: reimbursement is hours × unit
/// cost (Art. 1, unit costs under Reg. (UE) 2021/1060 art. 53) and must add up exactly.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Cents(pub i64);

impl Cents {
    /// Cost of `minutes` at `hourly` cents per hour, rounded half-up to the cent.
    pub fn for_minutes(minutes: u64, hourly: Cents) -> Cents {
        let m = i128::from(minutes);
        let h = i128::from(hourly.0);
        let value = (m * h * 2 + 60) / 120;
        Cents(i64::try_from(value).unwrap_or(i64::MAX))
    }

    /// Saturating addition.
    pub fn plus(self, other: Cents) -> Cents {
        Cents(self.0.saturating_add(other.0))
    }
}

impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}€{}.{:02}", abs / 100, abs % 100)
    }
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// Builds the id from anything string-like.
            pub fn new(s: impl Into<String>) -> Self {
                $name(s.into())
            }
            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_owned())
            }
        }
    };
}

string_id!(
    /// Identifier of a measure in the catalogue (e.g. `up`).
    MeasureId
);
string_id!(
    /// Identifier of a professional figure in a measure (e.g. `psicologo`).
    FigureId
);
string_id!(
    /// Identifier of a service (prestazione) in a measure (e.g. `colloquio_valutazione`).
    ServiceId
);

/// A SHA-256 digest as 64 lower-case hex characters (the signed paper diary's fingerprint).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256Hex(String);

/// Not a SHA-256 hex digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("un'impronta SHA-256 è di 64 caratteri esadecimali")]
pub struct Sha256Error;

impl Sha256Hex {
    /// Validates and lower-cases a hex digest.
    pub fn parse(s: &str) -> Result<Self, Sha256Error> {
        let s = s.trim().to_ascii_lowercase();
        if s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()) {
            Ok(Sha256Hex(s))
        } else {
            Err(Sha256Error)
        }
    }
    /// The digest as hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Sha256Hex {
    type Error = Sha256Error;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Sha256Hex::parse(&s)
    }
}

impl From<Sha256Hex> for String {
    fn from(h: Sha256Hex) -> String {
        h.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_fiscal_codes_are_accepted_and_normalised() {
        let cf = FiscalCode::parse("rssmra85t10a562s").unwrap();
        assert_eq!(cf.as_str(), "RSSMRA85T10A562S");
        let spid = FiscalCode::parse("TINIT-RSSMRA85T10A562S").unwrap();
        assert_eq!(spid, cf);
        // omocodia: the last digit replaced by its letter, check character recomputed
        assert!(FiscalCode::parse("RSSMRA85T10A56NH").is_ok());
        // a woman (day + 40)
        assert!(FiscalCode::parse("BNCLRA80A41F205G").is_ok());
    }

    #[test]
    fn invalid_fiscal_codes_are_refused() {
        assert_eq!(
            FiscalCode::parse("RSSMRA85T10A562X"),
            Err(FiscalCodeError::CheckCharacter { expected: 'S' })
        );
        assert_eq!(
            FiscalCode::parse("RSSMRA85T10A562"),
            Err(FiscalCodeError::Length(15))
        );
        assert_eq!(
            FiscalCode::parse("RSSMRA85Z10A562S"),
            Err(FiscalCodeError::Month)
        );
        assert_eq!(
            FiscalCode::parse("RSSMRA85T35A562S"),
            Err(FiscalCodeError::Day)
        );
        assert_eq!(
            FiscalCode::parse("1SSMRA85T10A562S"),
            Err(FiscalCodeError::Character(1))
        );
        assert!(FiscalCode::parse("12345678901").is_err());
    }

    #[test]
    fn fiscal_code_serde_validates() {
        let cf: FiscalCode = serde_json::from_str("\"TINIT-rssmra85t10a562s\"").unwrap();
        assert_eq!(serde_json::to_string(&cf).unwrap(), "\"RSSMRA85T10A562S\"");
        assert!(serde_json::from_str::<FiscalCode>("\"RSSMRA85T10A562X\"").is_err());
    }

    #[test]
    fn phase_serialises_as_number() {
        assert_eq!(serde_json::to_string(&Phase::III).unwrap(), "3");
        assert_eq!(serde_json::from_str::<Phase>("2").unwrap(), Phase::II);
        assert!(serde_json::from_str::<Phase>("5").is_err());
        assert_eq!(Phase::I.previous(), None);
        assert_eq!(Phase::IV.previous(), Some(Phase::III));
    }

    #[test]
    fn clock_times_are_read_as_given() {
        let d = NaiveDate::from_ymd_opt(2024, 3, 4).unwrap();
        assert_eq!(TimeSlot::parse(d, "09:15", "10:15").unwrap().minutes(), 60);
        assert_eq!(TimeSlot::parse(d, "09:00", "09:45").unwrap().minutes(), 45);
        assert_eq!(TimeSlot::parse(d, "23:30", "24:00").unwrap().minutes(), 30);
        for (start, end, field) in [
            ("9:00", "10:00", "start"),
            ("09:00", "10:0x", "end"),
            ("09:00", "24:30", "end"),
        ] {
            assert_eq!(
                TimeSlot::parse(d, start, end),
                Err(TimeSlotError::Unparseable { field })
            );
        }
        assert_eq!(
            TimeSlot::parse(d, "10:00", "10:00"),
            Err(TimeSlotError::EndNotAfterStart)
        );
        assert_eq!(
            TimeSlot::parse(d, "00:00", "24:00"),
            Err(TimeSlotError::EndNotAfterStart)
        );
        assert_eq!(
            TimeSlot::parse(d, "23:30", "00:00").unwrap().end_hhmm(),
            "24:00"
        );
        assert_eq!(
            TimeSlot::parse(d, "11:00", "10:00"),
            Err(TimeSlotError::EndNotAfterStart)
        );
        let ok = TimeSlot::parse(d, "23:00", "24:00").unwrap();
        let json = serde_json::to_string(&ok).unwrap();
        assert_eq!(
            json,
            r#"{"date":"2024-03-04","start":"23:00","end":"24:00"}"#
        );
        assert_eq!(serde_json::from_str::<TimeSlot>(&json).unwrap(), ok);
        let bad = r#"{"date":"2024-03-04","start":"09:00","end":"08:20"}"#;
        assert!(serde_json::from_str::<TimeSlot>(bad).is_err());
    }

    #[test]
    fn minutes_are_real_time_in_rome() {
        // 29 March 2026: 02:00 becomes 03:00; 25 October 2026: 03:00 becomes 02:00.
        let spring = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        let autumn = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap();
        assert_eq!(
            TimeSlot::parse(spring, "00:00", "04:00").unwrap().minutes(),
            180
        );
        assert_eq!(
            TimeSlot::parse(autumn, "00:00", "04:00").unwrap().minutes(),
            300
        );
        assert!(matches!(
            TimeSlot::parse(spring, "02:30", "04:00"),
            Err(TimeSlotError::NonexistentLocalTime { field: "start", .. })
        ));
        // 02:30 happens twice: the shortest reading counts.
        assert_eq!(
            TimeSlot::parse(autumn, "02:30", "03:30").unwrap().minutes(),
            60
        );
        assert_eq!(
            TimeSlot::parse(autumn, "02:00", "02:30").unwrap().minutes(),
            30
        );
        assert_eq!(
            TimeSlot::parse(autumn, "01:30", "02:30").unwrap().minutes(),
            60
        );
    }

    #[test]
    fn overlapping_slots() {
        let d = NaiveDate::from_ymd_opt(2024, 3, 4).unwrap();
        let a = TimeSlot::parse(d, "09:00", "10:00").unwrap();
        let b = TimeSlot::parse(d, "09:30", "11:00").unwrap();
        let c = TimeSlot::parse(d, "10:00", "11:00").unwrap();
        assert!(a.overlaps(&b));
        assert!(!a.overlaps(&c));
    }

    proptest::proptest! {
        /// The local-clock shortcut of `overlaps` never changes its answer: around both DST
        /// changes, across midnight and at 24:00, it agrees with comparing the instants.
        #[test]
        fn the_overlap_shortcut_agrees_with_the_instants(
            day_a in 0u64..4, day_b in 0u64..4, autumn: bool,
            a_start in 0u32..48, a_len in 1u32..12, b_start in 0u32..48, b_len in 1u32..12,
        ) {
            let base = if autumn {
                NaiveDate::from_ymd_opt(2026, 10, 24).unwrap()
            } else {
                NaiveDate::from_ymd_opt(2026, 3, 28).unwrap()
            };
            let slot = |day: u64, start: u32, len: u32| {
                let end = (start + len).min(48);
                let hhmm = |h: u32| format!("{:02}:{:02}", h / 2, (h % 2) * 30);
                TimeSlot::parse(base + Days::new(day), &hhmm(start), &hhmm(end)).ok()
            };
            if let (Some(a), Some(b)) = (slot(day_a, a_start, a_len), slot(day_b, b_start, b_len)) {
                let exact = match (a.interval(), b.interval()) {
                    (Some((s1, e1)), Some((s2, e2))) => s1 < e2 && s2 < e1,
                    _ => false,
                };
                proptest::prop_assert_eq!(a.overlaps(&b), exact);
                proptest::prop_assert_eq!(b.overlaps(&a), exact);
            }
        }
    }

    #[test]
    fn civil_dates_are_counted_in_rome() {
        // 23:30 UTC on 31 Dec is already 1 Jan in Rome
        let t = Utc.with_ymd_and_hms(2023, 12, 31, 23, 30, 0).unwrap();
        assert_eq!(civil_date(t), NaiveDate::from_ymd_opt(2024, 1, 1).unwrap());
        // one civil day across the spring DST change is 23 hours
        let before = Utc.with_ymd_and_hms(2024, 3, 30, 9, 0, 0).unwrap(); // 10:00 CET
        let after = add_civil_days_to_instant(before, 1);
        assert_eq!(after, Utc.with_ymd_and_hms(2024, 3, 31, 8, 0, 0).unwrap()); // 10:00 CEST
    }

    #[test]
    fn money_is_integer_cents() {
        assert_eq!(Cents::for_minutes(90, Cents(3000)), Cents(4500));
        assert_eq!(Cents::for_minutes(30, Cents(3333)), Cents(1667));
        assert_eq!(Cents(123456).to_string(), "€1234.56");
    }
}
