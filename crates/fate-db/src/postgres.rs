//! PostgreSQL through the blocking `postgres` crate (feature `postgres`).

use std::error::Error as StdError;
use std::sync::Arc;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type};

use crate::{Connection, Driver, Error, Row, Value};

/// Opens PostgreSQL connections (`postgres::Client`, no TLS) from a connection string, in
/// either of libpq's forms (`host=127.0.0.1 port=5432 user=fate dbname=fate` or
/// `postgresql://fate@127.0.0.1:5432/fate`). Placeholders are `$1`, `$2`, ...
///
/// Cells of the types `Value` has a variant for come back as that variant (`bool` as 0/1,
/// `int2`/`int4`/`int8`/`oid` as integers, `float4`/`float8`, `bytea`, and every text type);
/// cast other types in SQL (`created::text`).
///
/// # Examples
///
/// ```
/// use fate::db::{ConnectionPool, Postgres};
///
/// let pool = ConnectionPool::new(Postgres::new("host=127.0.0.1 user=fate dbname=fate"), 4);
/// # drop(pool);
/// ```
#[derive(Debug, Clone)]
pub struct Postgres {
    config: String,
}

impl Postgres {
    /// A driver for the server described by `config` (a libpq connection string or URL).
    pub fn new(config: impl Into<String>) -> Postgres {
        Postgres {
            config: config.into(),
        }
    }
}

impl Driver for Postgres {
    type Connection = postgres::Client;

    fn connect(&self) -> Result<postgres::Client, Error> {
        postgres::Client::connect(&self.config, postgres::NoTls).map_err(Error::connect)
    }
}

/// The parameters as `postgres` takes them.
fn params(values: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

impl Connection for postgres::Client {
    fn execute(&mut self, sql: &str, values: &[Value]) -> Result<u64, Error> {
        postgres::Client::execute(self, sql, &params(values)).map_err(Error::query)
    }

    fn query(&mut self, sql: &str, values: &[Value]) -> Result<Vec<Row>, Error> {
        let rows = postgres::Client::query(self, sql, &params(values)).map_err(Error::query)?;
        let Some(first) = rows.first() else {
            return Ok(Vec::new());
        };
        let columns: Arc<[String]> = first
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        rows.iter()
            .map(|row| {
                let values = (0..columns.len())
                    .map(|i| cell(row, i))
                    .collect::<Result<Vec<Value>, Error>>()?;
                Ok(Row::new(columns.clone(), values))
            })
            .collect()
    }

    fn is_broken(&mut self) -> bool {
        self.is_closed() || self.simple_query("SELECT 1").is_err()
    }
}

/// Cell `i` of `row` as a [`Value`], by its column's type.
fn cell(row: &postgres::Row, i: usize) -> Result<Value, Error> {
    fn get<'a, T: postgres::types::FromSql<'a>>(
        row: &'a postgres::Row,
        i: usize,
    ) -> Result<Option<T>, Error> {
        row.try_get::<_, Option<T>>(i)
            .map_err(|e| Error::conversion(e.to_string()))
    }
    let ty = row.columns()[i].type_();
    let value = match *ty {
        Type::BOOL => get::<bool>(row, i)?.map(|b| Value::Integer(i64::from(b))),
        Type::INT2 => get::<i16>(row, i)?.map(|n| Value::Integer(n.into())),
        Type::INT4 => get::<i32>(row, i)?.map(|n| Value::Integer(n.into())),
        Type::INT8 => get::<i64>(row, i)?.map(Value::Integer),
        Type::OID => get::<u32>(row, i)?.map(|n| Value::Integer(n.into())),
        Type::FLOAT4 => get::<f32>(row, i)?.map(|f| Value::Real(f.into())),
        Type::FLOAT8 => get::<f64>(row, i)?.map(Value::Real),
        Type::BYTEA => get::<Vec<u8>>(row, i)?.map(Value::Blob),
        _ => get::<String>(row, i)?.map(Value::Text),
    };
    Ok(value.unwrap_or(Value::Null))
}

/// A [`Value`] as a parameter of whatever type the statement declares for it: integers
/// narrow to `int2`/`int4` (an error if they do not fit) or widen to floats, booleans take
/// integers, and everything else goes through the matching Rust type's own checks.
impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(n) => match *ty {
                Type::BOOL => (*n != 0).to_sql_checked(ty, out),
                Type::INT2 => i16::try_from(*n)?.to_sql_checked(ty, out),
                Type::INT4 => i32::try_from(*n)?.to_sql_checked(ty, out),
                Type::OID => u32::try_from(*n)?.to_sql_checked(ty, out),
                Type::FLOAT4 => (*n as f32).to_sql_checked(ty, out),
                Type::FLOAT8 => (*n as f64).to_sql_checked(ty, out),
                _ => n.to_sql_checked(ty, out),
            },
            Value::Real(f) => match *ty {
                Type::FLOAT4 => (*f as f32).to_sql_checked(ty, out),
                _ => f.to_sql_checked(ty, out),
            },
            Value::Text(s) => s.to_sql_checked(ty, out),
            Value::Blob(b) => b.to_sql_checked(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}
