//! `Row` and `FromRow`: result rows, and how they become typed values.

use std::sync::Arc;

use crate::{Error, FromValue, Value};

/// One result row: its cells and the statement's column names.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use fate::db::{Row, Value};
///
/// let columns: Arc<[String]> = Arc::from(vec!["id".to_owned(), "name".to_owned()]);
/// let row = Row::new(columns, vec![Value::Integer(1), Value::Text("Alice".into())]);
/// assert_eq!(row.get::<i64>(0).unwrap(), 1);
/// assert_eq!(row.get_by_name::<String>("name").unwrap(), "Alice");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    /// A row of `values` under `columns` (shared by all rows of a result); for drivers.
    pub fn new(columns: Arc<[String]>, values: Vec<Value>) -> Row {
        Row { columns, values }
    }

    /// The column names.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The cells, in column order.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// The cells, taken.
    pub fn into_values(self) -> Vec<Value> {
        self.values
    }

    /// Cell `index`, converted.
    ///
    /// # Errors
    ///
    /// [`Error::is_conversion`] if there is no such column or the cell does not convert.
    pub fn get<T: FromValue>(&self, index: usize) -> Result<T, Error> {
        let value = self.values.get(index).ok_or_else(|| {
            Error::conversion(format!(
                "no column {index} in a row of {}",
                self.values.len()
            ))
        })?;
        T::from_value(value.clone())
    }

    /// The cell of column `name`, converted.
    ///
    /// # Errors
    ///
    /// As [`get`](Row::get).
    pub fn get_by_name<T: FromValue>(&self, name: &str) -> Result<T, Error> {
        let index = self
            .columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| Error::conversion(format!("no column named {name:?}")))?;
        self.get(index)
    }
}

/// A type a result row converts to: one [`FromValue`] for a one-column row, a tuple of them,
/// [`Row`] itself, or your own struct.
///
/// # Examples
///
/// ```
/// use fate::db::{Error, FromRow, Row};
///
/// struct Entry {
///     id: i64,
///     text: String,
/// }
///
/// impl FromRow for Entry {
///     fn from_row(row: Row) -> Result<Entry, Error> {
///         let (id, text) = <(i64, String)>::from_row(row)?;
///         Ok(Entry { id, text })
///     }
/// }
/// # let row = Row::new(vec!["id".into(), "text".into()].into(), vec![1.into(), "hi".into()]);
/// # let entry = Entry::from_row(row).unwrap();
/// # assert_eq!((entry.id, entry.text.as_str()), (1, "hi"));
/// ```
pub trait FromRow: Sized + Send + 'static {
    /// Converts `row`.
    ///
    /// # Errors
    ///
    /// [`Error::is_conversion`] if the row has too few columns or a cell does not convert.
    fn from_row(row: Row) -> Result<Self, Error>;
}

impl FromRow for Row {
    fn from_row(row: Row) -> Result<Row, Error> {
        Ok(row)
    }
}

impl<T: FromValue + Send + 'static> FromRow for T {
    fn from_row(row: Row) -> Result<T, Error> {
        let value = row
            .values
            .into_iter()
            .next()
            .ok_or_else(|| Error::conversion("an empty row"))?;
        T::from_value(value)
    }
}

macro_rules! from_row_tuple {
    ($($name:ident)+) => {
        impl<$($name: FromValue + Send + 'static),+> FromRow for ($($name,)+) {
            fn from_row(row: Row) -> Result<Self, Error> {
                let width = row.values.len();
                let mut cells = row.values.into_iter();
                let mut next = || {
                    cells.next().ok_or_else(|| {
                        Error::conversion(format!("a row of {width} columns is too short"))
                    })
                };
                Ok(($($name::from_value(next()?)?,)+))
            }
        }
    };
}
from_row_tuple!(A);
from_row_tuple!(A B);
from_row_tuple!(A B C);
from_row_tuple!(A B C D);
from_row_tuple!(A B C D E);
from_row_tuple!(A B C D E F);
from_row_tuple!(A B C D E F G);
from_row_tuple!(A B C D E F G H);
