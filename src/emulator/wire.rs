//! Create request bodies, deserialized without building a `serde_json::Value`
//! tree: keys and string values borrow from the request bytes when they hold
//! no escapes. Creates are the emulator's second-hottest path (100,000 users
//! in 500 calls is a benchmark target), and allocation dominated it.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One field value as sent.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldIn<'a> {
    Null,
    Bool(bool),
    Str(Cow<'a, str>),
    /// Any other JSON type, named for the error message.
    Other(&'static str),
}

/// One record: its fields in the order sent, and `attributes.type` if present.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecordIn<'a> {
    pub fields: Vec<(Cow<'a, str>, FieldIn<'a>)>,
    /// `Some(None)`: `attributes` present without a `type`.
    pub attributes_type: Option<Option<Cow<'a, str>>>,
}

/// `composite/sobjects` body.
#[derive(Debug, Deserialize)]
pub struct CollectionIn<'a> {
    #[serde(rename = "allOrNone", default)]
    pub all_or_none: Option<bool>,
    #[serde(borrow)]
    pub records: Option<Vec<RecordIn<'a>>>,
}

struct CowStr<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for CowStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = CowStr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for FieldIn<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = FieldIn<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(FieldIn::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(FieldIn::Null)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(FieldIn::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(FieldIn::Other("number"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(FieldIn::Other("number"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(FieldIn::Other("number"))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(FieldIn::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(FieldIn::Str(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(FieldIn::Str(Cow::Owned(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(FieldIn::Other("array"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(FieldIn::Other("object"))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
struct AttributesIn<'a> {
    #[serde(rename = "type", borrow, default)]
    ty: Option<Cow<'a, str>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for RecordIn<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = RecordIn<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut rec = RecordIn {
                    fields: Vec::with_capacity(map.size_hint().unwrap_or(12)),
                    attributes_type: None,
                };
                while let Some(CowStr(key)) = map.next_key::<CowStr<'a>>()? {
                    if key == "attributes" {
                        let a: AttributesIn<'a> = map.next_value()?;
                        rec.attributes_type = Some(a.ty);
                    } else {
                        rec.fields.push((key, map.next_value()?));
                    }
                }
                Ok(rec)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrows_plain_strings_and_decodes_escaped_ones() {
        let body = br#"{"allOrNone":true,"records":[{"attributes":{"type":"User","url":"x"},"Username":"a@b.com","LastName":"O\"Neil","IsActive":false,"N":3,"X":null,"L":[1,2]}]}"#;
        let c: CollectionIn = serde_json::from_slice(body).unwrap();
        assert_eq!(c.all_or_none, Some(true));
        let r = &c.records.unwrap()[0];
        assert_eq!(r.attributes_type, Some(Some(Cow::Borrowed("User"))));
        assert!(matches!(
            r.fields[0],
            (
                Cow::Borrowed("Username"),
                FieldIn::Str(Cow::Borrowed("a@b.com"))
            )
        ));
        assert_eq!(r.fields[1].1, FieldIn::Str(Cow::Owned("O\"Neil".into())));
        assert_eq!(r.fields[2].1, FieldIn::Bool(false));
        assert_eq!(r.fields[3].1, FieldIn::Other("number"));
        assert_eq!(r.fields[4].1, FieldIn::Null);
        assert_eq!(r.fields[5].1, FieldIn::Other("array"));
    }
}
