//! Export of a consultation as a FHIR R4 Bundle (C3, P2): Patient, Practitioner, Encounter, one
//! Communication per message, one Condition per ICD-10 diagnosis and a DocumentReference for the
//! closing summary. Exports need a fresh step-up and are audited (B3, S3).

use base64::Engine;
use serde_json::{Value, json};
use store::repo;

use super::{open_text, scope_for};
use crate::{App, AppError, Principal, RequestCtx, audit::Subject};

fn instant(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The consultation as a FHIR R4 `Bundle` of type `collection`.
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn fhir_bundle(app: &App, who: &Principal, ctx: &RequestCtx, id: &str) -> Result<Value, AppError> {
    let target = Subject { patient_id: None, resource: Some(id) };
    app.audit_denied(who, ctx, "record.export_fhir", target, fhir_bundle_inner(app, who, ctx, id)).await
}

async fn fhir_bundle_inner(app: &App, who: &Principal, ctx: &RequestCtx, id: &str) -> Result<Value, AppError> {
    who.require_step_up(app.clock.now(), app.config.step_up_secs)?;
    // Issue 11 item 8: exports are heavy (decodes, fonts); bound how many one account starts.
    app.throttle_hit(crate::throttle::Action::ExportByAccount, &who.user_id)?;
    let txn = app.store.begin_write().await?;
    let scope = scope_for(&txn, who).await?;
    let row = repo::consultation::find_scoped(&txn, &scope, id).await?.ok_or(AppError::NotFound)?;
    let patient_scope = repo::scope::PatientScope::granted(&row.patient_id, repo::scope::Grant::CareRelationship);
    let profile = repo::patient::find(&txn, &patient_scope).await?;
    let mut patient = json!({"resourceType": "Patient", "id": row.patient_id});
    if let Some(p) = &profile {
        let name = app.open_str("patient_profiles", "real_name_enc", &p.user_id, &p.real_name_enc)?;
        let birth = app.open_str("patient_profiles", "birth_date_enc", &p.user_id, &p.birth_date_enc)?;
        patient["name"] = json!([{"text": name}]);
        if !birth.is_empty() {
            patient["birthDate"] = json!(birth);
        }
        if let Some(sex) = &p.sex {
            patient["gender"] = json!(if sex == "male" { "male" } else { "female" });
        }
    }
    // References point at the entries' `fullUrl`s (urn:uuid), as a collection Bundle resolves them.
    let patient_ref = json!({"reference": format!("urn:uuid:{}", row.patient_id)});
    let mut entries = vec![patient];
    let mut practitioner_ref = None;
    if let Some(d) = &row.doctor_id {
        let u = repo::user::get(&txn, d).await?;
        let name = app.open_str("users", "display_name_enc", &u.id, &u.display_name_enc)?;
        entries.push(json!({"resourceType": "Practitioner", "id": d, "name": [{"text": name}]}));
        practitioner_ref = Some(json!({"reference": format!("urn:uuid:{d}")}));
    }
    let complaint = open_text(app, "complaint_enc", &row.id, Some(&row.complaint_enc))?.unwrap_or_default();
    let mut encounter = json!({
        "resourceType": "Encounter",
        "id": row.id,
        "status": if row.closed_at.is_some() { "finished" } else { "in-progress" },
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "VR", "display": "virtual"},
        "subject": patient_ref,
        "period": {"start": instant(row.created_at)},
        "reasonCode": [{"text": complaint}],
    });
    if let Some(end) = row.closed_at {
        encounter["period"]["end"] = json!(instant(end));
    }
    if let Some(p) = &practitioner_ref {
        encounter["participant"] = json!([{"individual": p}]);
    }
    entries.push(encounter);
    let encounter_ref = json!({"reference": format!("urn:uuid:{}", row.id)});
    // C1: a corrected record exports its current diagnoses; codes an earlier version had and a
    // correction removed stay in the bundle marked entered-in-error, so nothing silently vanishes.
    let corrections = super::correction::list(app, &txn, &row.id).await?;
    let original = crate::seal::diagnoses(app, &txn, &row.id).await?;
    let current = corrections.last().map_or_else(|| original.clone(), |c| c.diagnoses.clone());
    let mut removed: Vec<String> = original
        .iter()
        .chain(corrections.iter().flat_map(|c| c.diagnoses.iter()))
        .filter(|c| !current.contains(c))
        .cloned()
        .collect();
    removed.sort();
    removed.dedup();
    for (code, withdrawn) in current.iter().map(|c| (c, false)).chain(removed.iter().map(|c| (c, true))) {
        let display = domain::icd10::lookup(code).map(|e| e.name_en).unwrap_or_default();
        let mut coding = json!({"system": "http://hl7.org/fhir/sid/icd-10", "code": code});
        if !display.is_empty() {
            coding["display"] = json!(display);
        }
        let mut condition = json!({
            "resourceType": "Condition",
            "id": format!("{}-{}", row.id, code.replace('.', "-")),
            "code": {"coding": [coding]},
            "subject": patient_ref,
            "encounter": encounter_ref,
        });
        if withdrawn {
            condition["verificationStatus"] = json!({"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                "code": "entered-in-error",
            }]});
            condition["note"] = json!([{"text": "Removed by a correction of this record."}]);
        }
        entries.push(condition);
    }
    for m in repo::consultation::messages_after(&txn, &row.id, 0, 10_000).await? {
        let view = app.message_view(&txn, m).await?;
        let sender = if view.sender == row.patient_id {
            patient_ref.clone()
        } else {
            json!({"reference": format!("urn:uuid:{}", view.sender)})
        };
        let payload = match &view.attachment {
            Some(a) => {
                json!([{"contentAttachment": {"contentType": a.content_type, "title": a.name, "url": format!("/api/v1/attachments/{}", a.id)}}])
            }
            None => match &view.plan {
                Some(plan) => {
                    json!([{"contentString": plan.rows.iter().map(|r| format!("{} {} {} {}d", r.drug, r.dose, r.times.join("/"), r.days)).collect::<Vec<_>>().join("; ")}])
                }
                None => json!([{"contentString": view.text}]),
            },
        };
        entries.push(json!({
            "resourceType": "Communication",
            "id": view.id,
            "status": "completed",
            "subject": patient_ref,
            "encounter": encounter_ref,
            "sent": instant(view.sent_at),
            "sender": sender,
            "payload": payload,
        }));
    }
    // The closing summary and each corrected version (C1): the latest is `current`, earlier ones
    // `superseded`, and each correction `replaces` the version before it.
    if let Some(summary) = open_text(app, "summary_enc", &row.id, row.summary_enc.as_ref())? {
        let versions = std::iter::once((1, summary, None, row.closed_at)).chain(
            corrections.iter().map(|c| (c.version, c.summary.clone(), Some(c.reason.clone()), Some(c.created_at))),
        );
        let last = corrections.len() + 1;
        let mut previous: Option<String> = None;
        for (i, (version, text, reason, at)) in versions.enumerate() {
            let uid = uuid::Uuid::new_v4().to_string();
            let mut doc = json!({
                "resourceType": "DocumentReference",
                "id": uid,
                "status": if i + 1 == last { "current" } else { "superseded" },
                "subject": patient_ref,
                "description": "Consultation summary",
                "content": [{"attachment": {"contentType": "text/plain; charset=utf-8", "data": base64::engine::general_purpose::STANDARD.encode(text.as_bytes())}}],
                "context": {"encounter": [encounter_ref]},
            });
            if let Some(at) = at {
                doc["date"] = json!(instant(at));
            }
            if let Some(p) = &practitioner_ref {
                doc["author"] = json!([p]);
            }
            if let (Some(reason), Some(prev)) = (reason, &previous) {
                doc["docStatus"] = json!("amended");
                doc["description"] = json!(format!("Consultation summary, corrected (version {version}): {reason}"));
                doc["relatesTo"] = json!([{"code": "replaces", "target": {"reference": prev}}]);
            }
            previous = Some(format!("urn:uuid:{uid}"));
            entries.push(doc);
        }
    }
    app.record(
        &txn,
        ctx,
        Some(who),
        "record.export_fhir",
        Subject { patient_id: Some(&row.patient_id), resource: Some(id) },
        "ok",
    )
    .await?;
    txn.commit().await?;
    let entry: Vec<Value> = entries
        .into_iter()
        .map(|r| {
            let id = r["id"].as_str().unwrap_or_default();
            let url = match uuid::Uuid::parse_str(id) {
                Ok(u) => format!("urn:uuid:{u}"),
                Err(_) => format!("urn:uuid:{}", uuid::Uuid::new_v4()),
            };
            json!({"fullUrl": url, "resource": r})
        })
        .collect();
    Ok(json!({
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": instant(app.clock.now()),
        "entry": entry,
    }))
}
