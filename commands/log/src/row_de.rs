//! A row read into any `Deserialize` struct by column name: [`Row::decode`]. The struct's
//! fields are the columns (`#[serde(alias = "…")]` where a column has another name; columns
//! without a field are ignored). Each column is handed to the field as the type the field asks
//! for, whatever the backend stores: a UUID, instant or date column (native on PostgreSQL, text
//! on SQLite) as its text, a boolean stored as an integer as a boolean, a JSON column (JSONB,
//! or JSON text) as the value it holds. So one derive replaces a hand-written `field:
//! row.text("field")?` per column and per query, on both backends.

use std::fmt;

use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeOwned, IntoDeserializer, MapAccess, Visitor};
use serde::forward_to_deserialize_any;
use sqlx::{Column as _, Row as _, TypeInfo as _, ValueRef as _};
use uuid::Uuid;

use crate::sql::Row;
use crate::store::StoreError;
use crate::time::instant_text;

impl Row {
    /// The row as `T` (see the module documentation).
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, StoreError> {
        T::deserialize(RowDe { row: self, next: 0 })
            .map_err(|e| StoreError::Corrupt(format!("row: {}", e.0)))
    }

    fn column_names(&self) -> Vec<&str> {
        match self {
            Row::Pg(r) => r.columns().iter().map(|c| c.name()).collect(),
            Row::Lite(r) => r.columns().iter().map(|c| c.name()).collect(),
        }
    }

    /// Whether the column is NULL, and the name of the type its value has (PostgreSQL: the
    /// column's type; SQLite: the stored value's class).
    fn kind(&self, col: &str) -> Result<(bool, String), StoreError> {
        Ok(match self {
            Row::Pg(r) => {
                let v = r.try_get_raw(col)?;
                (v.is_null(), v.type_info().name().to_owned())
            }
            Row::Lite(r) => {
                let v = r.try_get_raw(col)?;
                (v.is_null(), v.type_info().name().to_owned())
            }
        })
    }
}

/// The error of a decode: a message naming the column or the value.
#[derive(Debug)]
pub struct DeError(String);

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError(msg.to_string())
    }
}

fn store(col: &str, e: StoreError) -> DeError {
    DeError(format!("column {col}: {e}"))
}

/// The whole row: a map from column names to columns.
struct RowDe<'r> {
    row: &'r Row,
    next: usize,
}

impl<'de> de::Deserializer<'de> for RowDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let names = self.row.column_names();
        visitor.visit_map(Columns {
            row: self.row,
            names,
            next: self.next,
        })
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 u8 u16 u32 u64 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

struct Columns<'r> {
    row: &'r Row,
    names: Vec<&'r str>,
    next: usize,
}

impl<'de> MapAccess<'de> for Columns<'_> {
    type Error = DeError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some(name) = self.names.get(self.next) else {
            return Ok(None);
        };
        let key: StrDeserializer<'_, DeError> = name.into_deserializer();
        seed.deserialize(key).map(Some)
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DeError> {
        let col = self.names[self.next];
        self.next += 1;
        seed.deserialize(ColumnDe { row: self.row, col })
    }
}

/// One column, read as the type its field asks for.
struct ColumnDe<'r> {
    row: &'r Row,
    col: &'r str,
}

impl ColumnDe<'_> {
    fn kind(&self) -> Result<(bool, String), DeError> {
        self.row.kind(self.col).map_err(|e| store(self.col, e))
    }

    /// The column as text: UUIDs, instants and dates of PostgreSQL in their text forms.
    fn text(&self) -> Result<String, DeError> {
        let col = self.col;
        let (_, kind) = self.kind()?;
        let text = match (self.row, kind.as_str()) {
            (Row::Pg(r), "UUID") => r.try_get::<Uuid, _>(col).map(|u| u.to_string()),
            (Row::Pg(r), "TIMESTAMPTZ") => r
                .try_get::<chrono::DateTime<chrono::Utc>, _>(col)
                .map(instant_text),
            (Row::Pg(r), "DATE") => r
                .try_get::<chrono::NaiveDate, _>(col)
                .map(|d| d.format("%Y-%m-%d").to_string()),
            _ => return self.row.text(col).map_err(|e| store(col, e)),
        };
        text.map_err(|e| store(col, e.into()))
    }

    /// The column's JSON value (JSONB on PostgreSQL, JSON text on SQLite).
    fn json(&self) -> Result<serde_json::Value, DeError> {
        self.row.json(self.col).map_err(|e| store(self.col, e))
    }

    fn i64(&self) -> Result<i64, DeError> {
        self.row.i64(self.col).map_err(|e| store(self.col, e))
    }
}

fn json_error(e: serde_json::Error) -> DeError {
    DeError(e.to_string())
}

/// Methods that read a JSON column (JSONB, or JSON text) and hand it to serde_json's own
/// deserializer of the same name.
macro_rules! via_json {
    ($($method:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {
        $(fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, DeError> {
            self.json()?.$method($($arg,)* visitor).map_err(json_error)
        })*
    };
}

impl<'de> de::Deserializer<'de> for ColumnDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let (null, kind) = self.kind()?;
        match kind.as_str() {
            _ if null => visitor.visit_none(),
            "BOOL" => self.deserialize_bool(visitor),
            "INT2" | "INT4" | "INT8" | "INTEGER" => visitor.visit_i64(self.i64()?),
            "JSON" | "JSONB" => self.json()?.deserialize_any(visitor).map_err(json_error),
            "BYTEA" | "BLOB" => self.deserialize_byte_buf(visitor),
            _ => visitor.visit_string(self.text()?),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_bool(self.row.bool(self.col).map_err(|e| store(self.col, e))?)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_i64(self.i64()?)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_string(self.text()?)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_string(self.text()?)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_byte_buf(self.row.bytes(self.col).map_err(|e| store(self.col, e))?)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.kind()?.0 {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    via_json! {
        deserialize_seq(),
        deserialize_map(),
        deserialize_struct(name: &'static str, fields: &'static [&'static str]),
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let text: de::value::StringDeserializer<DeError> = self.text()?.into_deserializer();
        visitor.visit_enum(text)
    }

    forward_to_deserialize_any! {
        i8 i16 i32 u8 u16 u32 u64 f32 f64 char bytes unit unit_struct tuple tuple_struct
        identifier ignored_any
    }
}
