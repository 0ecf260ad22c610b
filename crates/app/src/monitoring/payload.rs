//! What devices send (D5, the device contract in docs/DEVICES.md): a FHIR R4 `Observation`, or the
//! compact form `{"reading_id","type","values":{…},"unit","measured_at"[,"context"]}`, or a JSON array
//! of either (a batch). Parsing turns each into a checked reading in canonical units; nothing is
//! stored unless every item of a batch is valid.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::reading::{GlucoseContext, LOINC_DIASTOLIC, LOINC_SYSTOLIC, Reading, ReadingKind};
use serde_json::Value;

use crate::AppError;

/// Largest batch accepted in one request.
pub const MAX_BATCH: usize = 500;

/// One reading as the device identified it.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub reading_id: String,
    pub reading: Reading,
    pub measured_at: DateTime<Utc>,
}

/// The items of a request body, and whether it was a batch (the answer mirrors it).
pub fn parse_body(body: &Value, now: DateTime<Utc>) -> Result<(Vec<Incoming>, bool), AppError> {
    let (items, batch) = match body {
        Value::Array(items) => (items.iter().collect::<Vec<_>>(), true),
        one => (vec![one], false),
    };
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(AppError::invalid("reading_batch", "Send 1 to 500 readings at a time."));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        out.push(parse_one(item, now).map_err(|e| match e {
            AppError::Invalid { code, message } if batch => {
                AppError::Invalid { code, message: format!("Reading {} of the batch: {message}", i + 1) }
            }
            other => other,
        })?);
    }
    Ok((out, batch))
}

fn invalid(code: &'static str, message: &str) -> AppError {
    AppError::invalid(code, message)
}

fn reading_error(e: domain::reading::ReadingError) -> AppError {
    let message = match e {
        domain::reading::ReadingError::UnknownKind => "Unknown reading type.".to_owned(),
        domain::reading::ReadingError::MissingValue(v) => format!("The value {v} is missing."),
        domain::reading::ReadingError::UnknownUnit => "This unit is not accepted for this reading type.".to_owned(),
        domain::reading::ReadingError::Implausible(v) => {
            format!("The value {v} is outside what a person can have: check the device.")
        }
    };
    AppError::Invalid { code: e.code(), message }
}

/// `measured_at`: RFC 3339, not more than 5 minutes ahead of the server's clock (device clocks drift)
/// and not older than a year.
fn measured_at(v: Option<&Value>, now: DateTime<Utc>) -> Result<DateTime<Utc>, AppError> {
    let at = v
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc))
        .ok_or_else(|| invalid("reading_time", "measured_at must be an RFC 3339 time with its offset."))?;
    if at > now + chrono::Duration::minutes(5) || at < now - chrono::Duration::days(366) {
        return Err(invalid("reading_time", "measured_at is in the future or more than a year ago."));
    }
    Ok(at)
}

fn reading_id(v: Option<&Value>) -> Result<String, AppError> {
    let id = v.and_then(Value::as_str).map_or("", str::trim);
    if id.is_empty() || id.len() > 100 {
        return Err(invalid("reading_id", "Each reading needs a reading_id (1 to 100 characters)."));
    }
    // Issue 11 item 15: MQTT payloads do not pass the HTTP input check; the id is stored as text.
    domain::validate::refuse_control_characters(id, false)?;
    Ok(id.to_owned())
}

fn parse_one(item: &Value, now: DateTime<Utc>) -> Result<Incoming, AppError> {
    if !item.is_object() {
        return Err(invalid("reading_format", "A reading is a JSON object."));
    }
    if item["resourceType"].is_string() {
        return parse_fhir(item, now);
    }
    let kind: ReadingKind = item["type"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| invalid("reading_type", "type is one of blood-pressure, glucose, weight, heart-rate, spo2."))?;
    let values: BTreeMap<String, f64> = item["values"]
        .as_object()
        .map(|m| m.iter().filter_map(|(k, v)| v.as_f64().map(|f| (k.clone(), f))).collect())
        .unwrap_or_default();
    let context = context_of(item["context"].as_str())?;
    let unit = item["unit"].as_str().unwrap_or("");
    Ok(Incoming {
        reading_id: reading_id(item.get("reading_id"))?,
        reading: Reading::normalize(kind, &values, unit, context).map_err(reading_error)?,
        measured_at: measured_at(item.get("measured_at"), now)?,
    })
}

fn context_of(v: Option<&str>) -> Result<Option<GlucoseContext>, AppError> {
    v.map(|c| c.parse().map_err(|_| invalid("reading_context", "context is fasting, post-meal or random."))).transpose()
}

/// The LOINC code among an element's `code.coding`.
fn loinc(el: &Value) -> Option<&str> {
    el["code"]["coding"]
        .as_array()?
        .iter()
        .find(|c| c["system"].as_str().is_none_or(|s| s == "http://loinc.org"))
        .and_then(|c| c["code"].as_str())
}

fn quantity(el: &Value) -> Option<(f64, String)> {
    let q = &el["valueQuantity"];
    let unit = q["code"].as_str().or_else(|| q["unit"].as_str()).unwrap_or("");
    Some((q["value"].as_f64()?, unit.to_owned()))
}

/// A FHIR R4 Observation: `code` (LOINC), `valueQuantity` or, for blood pressure, `component`s
/// 8480-6 / 8462-4; `effectiveDateTime`; the first `identifier` (or `id`) is the reading id.
fn parse_fhir(o: &Value, now: DateTime<Utc>) -> Result<Incoming, AppError> {
    if o["resourceType"] != "Observation" {
        return Err(invalid("reading_format", "Only FHIR Observation resources are accepted."));
    }
    let kind = loinc(o).and_then(ReadingKind::from_loinc).ok_or_else(|| {
        invalid(
            "reading_type",
            "Observation.code must be a LOINC code for blood pressure, glucose, weight, heart rate or SpO2.",
        )
    })?;
    let mut values = BTreeMap::new();
    let mut unit = String::new();
    if kind == ReadingKind::BloodPressure {
        for c in o["component"].as_array().into_iter().flatten() {
            let name = match loinc(c) {
                Some(LOINC_SYSTOLIC) => "systolic",
                Some(LOINC_DIASTOLIC) => "diastolic",
                Some("8867-4") => "pulse",
                _ => continue,
            };
            if let Some((v, u)) = quantity(c) {
                values.insert(name.to_owned(), v);
                if name != "pulse" {
                    unit = u;
                }
            }
        }
    } else if let Some((v, u)) = quantity(o) {
        values.insert("value".to_owned(), v);
        unit = u;
    }
    let id = o["identifier"].as_array().and_then(|ids| ids.first()).map(|i| &i["value"]).or_else(|| o.get("id"));
    let context = match o["extension"].as_array().into_iter().flatten().find_map(|e| e["valueCode"].as_str()) {
        Some(c) => context_of(Some(c)).ok().flatten(),
        None => None,
    };
    Ok(Incoming {
        reading_id: reading_id(id)?,
        reading: Reading::normalize(kind, &values, &unit, context).map_err(reading_error)?,
        measured_at: measured_at(o.get("effectiveDateTime"), now)?,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T08:00:00+08:00").unwrap().with_timezone(&Utc)
    }

    #[test]
    fn compact_and_fhir_forms_give_the_same_reading() {
        let compact = json!({"reading_id":"r1","type":"blood-pressure","values":{"systolic":182,"diastolic":96,"pulse":80},"unit":"mmHg","measured_at":"2026-12-01T07:55:00+08:00"});
        let fhir = json!({
            "resourceType":"Observation","status":"final","identifier":[{"value":"r1"}],
            "code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},
            "effectiveDateTime":"2026-12-01T07:55:00+08:00",
            "component":[
                {"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":182,"unit":"mmHg","code":"mm[Hg]"}},
                {"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":96,"unit":"mmHg","code":"mm[Hg]"}},
                {"code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"valueQuantity":{"value":80,"code":"/min"}}
            ]
        });
        let (a, batch) = parse_body(&compact, now()).unwrap();
        assert!(!batch);
        let (b, _) = parse_body(&fhir, now()).unwrap();
        assert_eq!(a[0].reading, b[0].reading);
        assert_eq!(a[0].reading_id, b[0].reading_id);
        assert_eq!(a[0].measured_at, b[0].measured_at);
        assert_eq!(a[0].reading.value("pulse"), Some(80.0));
    }

    #[test]
    fn a_batch_with_one_bad_item_is_refused_whole_and_names_it() {
        let good = json!({"reading_id":"g1","type":"glucose","values":{"glucose":110},"unit":"mg/dL","measured_at":"2026-12-01T07:00:00+08:00"});
        let bad = json!({"reading_id":"g2","type":"glucose","values":{"glucose":900},"unit":"mmol/L","measured_at":"2026-12-01T07:00:00+08:00"});
        let (items, batch) = parse_body(&json!([good.clone()]), now()).unwrap();
        assert!(batch);
        assert_eq!(items[0].reading.value("glucose"), Some(6.1));
        let err = parse_body(&json!([good, bad]), now()).unwrap_err();
        assert_eq!(err.code(), "reading_implausible");
        assert!(err.to_string().contains("Reading 2"), "{err}");
    }

    #[test]
    fn bad_times_ids_and_types_have_their_own_codes() {
        let base = json!({"reading_id":"x","type":"weight","values":{"weight":70},"unit":"kg","measured_at":"2026-12-01T07:00:00+08:00"});
        assert!(parse_body(&base, now()).is_ok());
        let with = |k: &str, v: Value| {
            let mut o = base.clone();
            o[k] = v;
            parse_body(&o, now()).unwrap_err().code()
        };
        assert_eq!(with("measured_at", json!("2026-12-02T07:00:00+08:00")), "reading_time");
        assert_eq!(with("measured_at", json!("yesterday")), "reading_time");
        assert_eq!(with("reading_id", json!("")), "reading_id");
        assert_eq!(with("type", json!("cholesterol")), "reading_type");
        assert_eq!(with("unit", json!("stone")), "reading_unit");
        assert_eq!(parse_body(&json!([]), now()).unwrap_err().code(), "reading_batch");
        assert_eq!(parse_body(&json!({"resourceType":"Patient"}), now()).unwrap_err().code(), "reading_format");
    }
}
