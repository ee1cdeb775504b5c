//! `Value`: one parameter or cell, whatever the driver; conversions to and from Rust types.

use crate::Error;

/// A parameter or a cell: SQLite's five storage classes, which every driver can map to.
///
/// # Examples
///
/// ```
/// use fate::db::Value;
/// assert_eq!(Value::from(3), Value::Integer(3));
/// assert_eq!(Value::from("tea"), Value::Text("tea".into()));
/// assert_eq!(Value::from(None::<i64>), Value::Null);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// An integer (booleans are 0 and 1).
    Integer(i64),
    /// A floating-point number.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

macro_rules! from_integer {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value {
                Value::Integer(i64::from(v))
            }
        }
    )*};
}
from_integer!(i8, i16, i32, i64, u8, u16, u32, bool);

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Real(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Value {
        Value::Blob(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

/// A Rust type a cell converts to.
///
/// # Examples
///
/// ```
/// use fate::db::{FromValue, Value};
/// assert_eq!(i64::from_value(Value::Integer(7)).unwrap(), 7);
/// assert_eq!(Option::<String>::from_value(Value::Null).unwrap(), None);
/// assert!(String::from_value(Value::Null).unwrap_err().is_conversion());
/// ```
pub trait FromValue: Sized {
    /// Converts `value`.
    ///
    /// # Errors
    ///
    /// [`Error::is_conversion`] if the value is of another kind (or `NULL` for a non-`Option`).
    fn from_value(value: Value) -> Result<Self, Error>;
}

fn mismatch<T>(value: &Value) -> Error {
    Error::conversion(format!("{value:?} is not a {}", std::any::type_name::<T>()))
}

impl FromValue for Value {
    fn from_value(value: Value) -> Result<Value, Error> {
        Ok(value)
    }
}

impl FromValue for i64 {
    fn from_value(value: Value) -> Result<i64, Error> {
        match value {
            Value::Integer(i) => Ok(i),
            other => Err(mismatch::<i64>(&other)),
        }
    }
}

macro_rules! from_value_narrow {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(value: Value) -> Result<$t, Error> {
                match value {
                    Value::Integer(i) => <$t>::try_from(i).map_err(|_| {
                        Error::conversion(format!("{i} does not fit in {}", stringify!($t)))
                    }),
                    other => Err(mismatch::<$t>(&other)),
                }
            }
        }
    )*};
}
from_value_narrow!(i32, u32, u64, usize);

impl FromValue for bool {
    fn from_value(value: Value) -> Result<bool, Error> {
        match value {
            Value::Integer(i) => Ok(i != 0),
            other => Err(mismatch::<bool>(&other)),
        }
    }
}

impl FromValue for f64 {
    fn from_value(value: Value) -> Result<f64, Error> {
        match value {
            Value::Real(f) => Ok(f),
            // SQLite stores whole reals as integers when it can.
            Value::Integer(i) => Ok(i as f64),
            other => Err(mismatch::<f64>(&other)),
        }
    }
}

impl FromValue for String {
    fn from_value(value: Value) -> Result<String, Error> {
        match value {
            Value::Text(s) => Ok(s),
            other => Err(mismatch::<String>(&other)),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: Value) -> Result<Vec<u8>, Error> {
        match value {
            Value::Blob(b) => Ok(b),
            Value::Text(s) => Ok(s.into_bytes()),
            other => Err(mismatch::<Vec<u8>>(&other)),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: Value) -> Result<Option<T>, Error> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// A statement's parameters: `()`, a tuple of values (`(1, "tea")`), or a `Vec<Value>`.
///
/// # Examples
///
/// ```
/// use fate::db::{Params, Value};
/// assert_eq!((7, "tea").into_values(), [Value::Integer(7), Value::Text("tea".into())]);
/// assert!(().into_values().is_empty());
/// ```
pub trait Params: Send + 'static {
    /// The parameters, in order.
    fn into_values(self) -> Vec<Value>;
}

impl Params for () {
    fn into_values(self) -> Vec<Value> {
        Vec::new()
    }
}

impl Params for Vec<Value> {
    fn into_values(self) -> Vec<Value> {
        self
    }
}

macro_rules! params_tuple {
    ($($name:ident)+) => {
        impl<$($name: Into<Value> + Send + 'static),+> Params for ($($name,)+) {
            #[allow(non_snake_case)]
            fn into_values(self) -> Vec<Value> {
                let ($($name,)+) = self;
                vec![$($name.into()),+]
            }
        }
    };
}
params_tuple!(A);
params_tuple!(A B);
params_tuple!(A B C);
params_tuple!(A B C D);
params_tuple!(A B C D E);
params_tuple!(A B C D E F);
params_tuple!(A B C D E F G);
params_tuple!(A B C D E F G H);
