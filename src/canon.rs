//! The one canonical-JSON writer: compact, object keys sorted by byte order, integers only.
//!
//! Used for key documents, key files, the `assets.pa` header and its JSON mirrors, so that the
//! same value always has the same bytes on every machine.

use serde::ser::{self, Serialize};
use serde_json::Value;

/// Serializes `value` canonically. Fails if the value contains a float (SPEC §4.1 forbids them).
///
/// Written straight from the value's `Serialize` (no `serde_json::Value` tree in between):
/// scalars and strings are formatted by serde_json itself, so the bytes are exactly its
/// compact output of the sorted value; only the entries of each object are buffered, to be
/// sorted by key.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    value.serialize(Canon { out: &mut out, without: None })?;
    Ok(out)
}

/// The canonical bytes of `value`, and of `value` without its top-level field `drop` (a key
/// document's weak key leaves `dependencies-strong` out): one serialization for both. Fails as
/// [`to_vec`] does, and when `value` is not an object.
pub fn to_vec_and_without<T: Serialize + ?Sized>(value: &T, drop: &str) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    let (mut out, mut without) = (Vec::with_capacity(256), Vec::with_capacity(256));
    value.serialize(Canon { out: &mut out, without: Some((drop, &mut without)) })?;
    anyhow::ensure!(!without.is_empty(), "not an object: no field to leave out");
    Ok((out, without))
}

/// Fails if the value holds a float (canonical JSON allows integers only).
pub fn check(value: &Value) -> anyhow::Result<()> {
    check_integers(value)
}

fn check_integers(value: &Value) -> anyhow::Result<()> {
    match value {
        Value::Number(n) if !(n.is_i64() || n.is_u64()) => {
            anyhow::bail!("canonical JSON allows integers only, found {n}")
        }
        Value::Array(items) => items.iter().try_for_each(check_integers),
        Value::Object(map) => map.values().try_for_each(check_integers),
        _ => Ok(()),
    }
}

/// A canonical-JSON serialization error: a float, or a map key that is not a string or an
/// integer.
#[derive(Debug)]
pub struct Error(String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

fn json<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) -> Result<(), Error> {
    serde_json::to_writer(out, v).map_err(|e| Error(e.to_string()))
}

struct Canon<'a> {
    out: &'a mut Vec<u8>,
    /// At the top level only: also write the object without this field, here.
    without: Option<(&'a str, &'a mut Vec<u8>)>,
}

/// An object being written. While its keys arrive in ascending byte order (a `BTreeMap`, a
/// `Value`'s map, a struct whose fields are declared sorted) each entry is written straight
/// into `out`; the first key out of order moves the entries written so far into `entries`,
/// which are then sorted at the end. So a large document nested in sorted objects is written
/// once, not copied at every level (the pack's record at 10,000 assets held 17 MB of copies).
struct Object<'a> {
    out: &'a mut Vec<u8>,
    /// Where this object's `{` is in `out`.
    start: usize,
    /// Writing straight into `out`: each entry's key and where its value is in `out`.
    direct: Option<Vec<(String, std::ops::Range<usize>)>>,
    entries: Vec<(String, Vec<u8>)>,
    key: Option<String>,
    /// For an enum variant written as `{"variant": …}`: the outer object is closed too.
    variant: Option<&'static str>,
    /// See [`to_vec_and_without`].
    without: Option<(&'a str, &'a mut Vec<u8>)>,
}

impl<'a> Object<'a> {
    fn new(out: &'a mut Vec<u8>, variant: Option<&'static str>, without: Option<(&'a str, &'a mut Vec<u8>)>) -> Self {
        let start = out.len();
        out.push(b'{');
        Object { out, start, direct: Some(Vec::new()), entries: Vec::new(), key: None, variant, without }
    }

    fn entry<T: Serialize + ?Sized>(&mut self, key: String, value: &T) -> Result<(), Error> {
        if let Some(direct) = &mut self.direct {
            if direct.last().is_none_or(|(last, _)| *last < key) {
                if !direct.is_empty() {
                    self.out.push(b',');
                }
                json(self.out, &key)?;
                self.out.push(b':');
                let at = self.out.len();
                value.serialize(Canon { out: self.out, without: None })?;
                direct.push((key, at..self.out.len()));
                return Ok(());
            }
            // Out of order: from here on, buffered and sorted at the end.
            let written = self.out.split_off(self.start);
            self.entries = std::mem::take(direct)
                .into_iter()
                .map(|(k, r)| (k, written[r.start - self.start..r.end - self.start].to_vec()))
                .collect();
            self.direct = None;
        }
        let mut bytes = Vec::new();
        value.serialize(Canon { out: &mut bytes, without: None })?;
        self.entries.push((key, bytes));
        Ok(())
    }

    fn finish(mut self) -> Result<(), Error> {
        match &self.direct {
            Some(direct) => {
                self.out.push(b'}');
                if let Some((drop, out)) = self.without {
                    let written = &self.out[..];
                    let kept = direct.iter().filter(|(k, _)| k != drop).map(|(k, r)| (k.as_str(), &written[r.clone()]));
                    write_object(out, kept)?;
                }
            }
            None => {
                // Byte order of the UTF-8 keys: what serde_json's BTreeMap-backed Map would give.
                self.entries.sort_by(|a, b| a.0.cmp(&b.0));
                let entries = || self.entries.iter().map(|(k, v)| (k.as_str(), v.as_slice()));
                write_object(self.out, entries())?;
                if let Some((drop, out)) = self.without {
                    write_object(out, entries().filter(|(k, _)| k != &drop))?;
                }
            }
        }
        if self.variant.is_some() {
            self.out.push(b'}');
        }
        Ok(())
    }
}

/// `{"k":v,…}` from entries whose values are already canonical bytes.
fn write_object<'e>(out: &mut Vec<u8>, entries: impl Iterator<Item = (&'e str, &'e [u8])>) -> Result<(), Error> {
    out.push(b'{');
    for (i, (k, v)) in entries.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json(out, k)?;
        out.push(b':');
        out.extend_from_slice(v);
    }
    out.push(b'}');
    Ok(())
}

/// An array being written, element by element.
struct Array<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
    variant: bool,
}

impl Array<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        if !std::mem::take(&mut self.first) {
            self.out.push(b',');
        }
        value.serialize(Canon { out: self.out, without: None })
    }

    fn finish(self) -> Result<(), Error> {
        self.out.push(b']');
        if self.variant {
            self.out.push(b'}');
        }
        Ok(())
    }
}

fn not_a_key() -> Error {
    Error("a map key must be a string or an integer".into())
}

/// The text of a map key: strings as they are, integers in decimal (as serde_json does).
struct KeyText;

macro_rules! key_ints {
    ($($f:ident: $t:ty),*) => { $(fn $f(self, v: $t) -> Result<String, Error> { Ok(v.to_string()) })* };
}

macro_rules! key_refused {
    ($($f:ident: $t:ty),*) => { $(fn $f(self, _: $t) -> Result<String, Error> { Err(not_a_key()) })* };
}

impl ser::Serializer for KeyText {
    type Ok = String;
    type Error = Error;
    type SerializeSeq = ser::Impossible<String, Error>;
    type SerializeTuple = ser::Impossible<String, Error>;
    type SerializeTupleStruct = ser::Impossible<String, Error>;
    type SerializeTupleVariant = ser::Impossible<String, Error>;
    type SerializeMap = ser::Impossible<String, Error>;
    type SerializeStruct = ser::Impossible<String, Error>;
    type SerializeStructVariant = ser::Impossible<String, Error>;

    fn serialize_str(self, v: &str) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_char(self, v: char) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<String, Error> {
        Ok(variant.to_string())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, v: &T) -> Result<String, Error> {
        v.serialize(self)
    }
    key_ints!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64, serialize_i128: i128,
        serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64, serialize_u128: u128);
    key_refused!(serialize_bool: bool, serialize_f32: f32, serialize_f64: f64, serialize_bytes: &[u8]);
    fn serialize_none(self) -> Result<String, Error> {
        Err(not_a_key())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<String, Error> {
        self.serialize_none()
    }
    fn serialize_unit(self) -> Result<String, Error> {
        self.serialize_none()
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<String, Error> {
        self.serialize_none()
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<String, Error> {
        self.serialize_none()
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(not_a_key())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        Err(not_a_key())
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, Error> {
        Err(not_a_key())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(not_a_key())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(not_a_key())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Error> {
        Err(not_a_key())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(not_a_key())
    }
}

macro_rules! scalars {
    ($($f:ident: $t:ty),*) => { $(fn $f(self, v: $t) -> Result<(), Error> { json(self.out, &v) })* };
}

impl<'a> ser::Serializer for Canon<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Array<'a>;
    type SerializeTuple = Array<'a>;
    type SerializeTupleStruct = Array<'a>;
    type SerializeTupleVariant = Array<'a>;
    type SerializeMap = Object<'a>;
    type SerializeStruct = Object<'a>;
    type SerializeStructVariant = Object<'a>;

    scalars!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_i128: i128, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64,
        serialize_u128: u128, serialize_char: char);

    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.serialize_f64(v as f64)
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        Err(Error(format!("canonical JSON allows integers only, found {v}")))
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        json(self.out, v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        json(self.out, v)
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.serialize_none()
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        self.serialize_none()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<(), Error> {
        json(self.out, variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, v: &T) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        let mut o = Object::new(self.out, None, None);
        o.entry(variant.to_string(), v)?;
        o.finish()
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Array<'a>, Error> {
        self.out.push(b'[');
        Ok(Array { out: self.out, first: true, variant: false })
    }
    fn serialize_tuple(self, len: usize) -> Result<Array<'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Array<'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Array<'a>, Error> {
        self.out.push(b'{');
        json(self.out, variant)?;
        self.out.extend_from_slice(b":[");
        Ok(Array { out: self.out, first: true, variant: true })
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Object<'a>, Error> {
        Ok(Object::new(self.out, None, self.without))
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Object<'a>, Error> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Object<'a>, Error> {
        self.out.push(b'{');
        json(self.out, variant)?;
        self.out.push(b':');
        Ok(Object::new(self.out, Some(variant), None))
    }
}

/// The four array-like serializer traits, all written element by element.
macro_rules! array_like {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Array<'_> {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
                self.element(v)
            }
            fn end(self) -> Result<(), Error> {
                self.finish()
            }
        }
    )*};
}

array_like!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Object<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), Error> {
        self.key = Some(k.serialize(KeyText)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        let key = self.key.take().ok_or_else(|| Error("a map value without a key".into()))?;
        self.entry(key, v)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

/// Structs and struct variants: fields are entries named by the field.
macro_rules! struct_like {
    ($($trait:ident),*) => {$(
        impl ser::$trait for Object<'_> {
            type Ok = ();
            type Error = Error;
            fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<(), Error> {
                self.entry(key.to_string(), v)
            }
            fn end(self) -> Result<(), Error> {
                self.finish()
            }
        }
    )*};
}

struct_like!(SerializeStruct, SerializeStructVariant);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_sorted_by_bytes_recursively_and_compact() {
        let v = json!({"b": 1, "a": {"z": [3, {"y": 1, "x": 2}], "B": "é"}, "_": null});
        assert_eq!(
            String::from_utf8(to_vec(&v).unwrap()).unwrap(),
            r#"{"_":null,"a":{"B":"é","z":[3,{"x":2,"y":1}]},"b":1}"#
        );
    }

    /// The canonical form by way of a `serde_json::Value` (whose maps sort their keys): what
    /// the direct writer must give, byte for byte.
    fn through_value<T: Serialize>(v: &T) -> Vec<u8> {
        serde_json::to_vec(&serde_json::to_value(v).unwrap()).unwrap()
    }

    #[test]
    fn the_direct_writer_equals_serde_json_of_the_sorted_value() {
        let v = json!({"zeta": [1, "two", {"b": null, "a": true, "\u{1}": "tab\tquote\"", "é": -7}], "A": {}, "": []});
        assert_eq!(to_vec(&v).unwrap(), through_value(&v));
        #[derive(serde::Serialize)]
        #[serde(rename_all = "kebab-case")]
        enum E {
            Unit,
            New(u8),
            Tuple(u8, String),
            Struct { z: u8, a: Option<u8> },
        }
        #[derive(serde::Serialize)]
        struct S {
            zz: Vec<E>,
            #[serde(skip_serializing_if = "Option::is_none")]
            skipped: Option<u8>,
            map: std::collections::BTreeMap<u64, (String, i128)>,
            bytes: [u8; 2],
            #[serde(rename = "a-b")]
            renamed: u128,
        }
        let s = S {
            zz: vec![E::Unit, E::New(1), E::Tuple(2, "x".into()), E::Struct { z: 3, a: None }],
            skipped: None,
            map: [(10, ("ten".into(), -1)), (9, ("nine".into(), i64::MIN as i128))].into(),
            bytes: [1, 2],
            renamed: u64::MAX as u128,
        };
        assert_eq!(to_vec(&s).unwrap(), through_value(&s));
        assert_eq!(String::from_utf8(to_vec(&s).unwrap()).unwrap(), String::from_utf8(through_value(&s)).unwrap());
    }

    #[test]
    fn objects_written_straight_through_and_those_buffered_give_the_same_bytes() {
        // Sorted fields are written straight into the output; a field out of order moves
        // what was written into the sorting buffer, at every level, with and without the
        // top-level field left out.
        #[derive(serde::Serialize)]
        struct Inner {
            a: u8,
            c: Vec<std::collections::BTreeMap<String, u8>>,
            b: &'static str,
        }
        #[derive(serde::Serialize)]
        struct Sorted {
            a: Inner,
            b: u8,
            z: Option<Inner>,
        }
        #[derive(serde::Serialize)]
        struct Late {
            m: u8,
            n: Inner,
            a: Inner,
        }
        let inner = || Inner { a: 1, c: vec![[("y".into(), 2), ("x".into(), 1)].into()], b: "é" };
        let sorted = Sorted { a: inner(), b: 2, z: Some(inner()) };
        let late = Late { m: 1, n: inner(), a: inner() };
        assert_eq!(to_vec(&sorted).unwrap(), through_value(&sorted));
        assert_eq!(to_vec(&late).unwrap(), through_value(&late));
        for (drop, v) in [("b", serde_json::to_value(&sorted).unwrap()), ("n", serde_json::to_value(&late).unwrap())] {
            let mut kept = v.clone();
            kept.as_object_mut().unwrap().remove(drop);
            let expected = (serde_json::to_vec(&v).unwrap(), serde_json::to_vec(&kept).unwrap());
            assert_eq!(to_vec_and_without(&v, drop).unwrap(), expected);
        }
        let (all, without) = to_vec_and_without(&late, "n").unwrap();
        assert_eq!(String::from_utf8(all).unwrap(), String::from_utf8(through_value(&late)).unwrap());
        assert_eq!(String::from_utf8(without).unwrap(), r#"{"a":{"a":1,"b":"é","c":[{"x":1,"y":2}]},"m":1}"#);
        let (_, without) = to_vec_and_without(&sorted, "b").unwrap();
        assert!(String::from_utf8(without).unwrap().starts_with(r#"{"a":{"a":1,"b":"é","#));
    }

    #[test]
    fn floats_are_rejected() {
        assert!(to_vec(&json!({"a": 1.5})).is_err());
        assert!(to_vec(&json!([1, -2, u64::MAX])).is_ok());
    }
}
