//! S1: after a patient registers, neither the raw SQLite file (and its WAL) nor any PostgreSQL row
//! contains the ID number, phone number or name in plain text.

use testkit::{PASSWORD, TestApp, fresh_resident_id};

#[tokio::test]
async fn identity_data_is_never_stored_in_plain_text() {
    let t = TestApp::new().await;
    let id_number = fresh_resident_id();
    let phone = "13912345678";
    let name = "欧阳明珠";
    let r = t
        .post(
            "/api/v1/auth/register/patient",
            serde_json::json!({
                "login": "plain-check", "password": PASSWORD, "name": name, "phone": phone,
                "id_kind": "resident_id", "id_number": id_number,
                "accept_privacy": true, "accept_sensitive": true
            }),
            None,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    // The data is really there (decryptable) …
    let token = t.token("plain-check", None).await;
    let me = t.get("/api/v1/me", Some(&token)).await.json();
    assert_eq!(me["patient"]["real_name"], name);
    assert_eq!(me["phone_masked"], "139****5678");
    let needles = [id_number.as_str(), &id_number[6..14], phone, name];

    // … but nowhere in plain text.
    let haystack: Vec<u8> = if t.is_postgres() {
        use sea_orm::ConnectionTrait;
        let mut all = Vec::new();
        let tables = t
            .app
            .store
            .db
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
            ))
            .await
            .unwrap();
        for row in tables {
            let table: String = row.try_get("", "tablename").unwrap();
            let rows = t
                .app
                .store
                .db
                .query_all_raw(sea_orm::Statement::from_string(
                    sea_orm::DbBackend::Postgres,
                    format!("SELECT row_to_json(x)::text AS j FROM \"{table}\" x"),
                ))
                .await
                .unwrap();
            for r in rows {
                let j: String = r.try_get("", "j").unwrap();
                all.extend_from_slice(j.as_bytes());
            }
        }
        all
    } else {
        let path = t.db_url.trim_start_matches("sqlite://").split('?').next().unwrap().to_owned();
        let mut all = std::fs::read(&path).unwrap();
        if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
            all.extend_from_slice(&wal);
        }
        all
    };
    assert!(haystack.len() > 1000, "read the database");
    for n in needles {
        assert!(
            !haystack.windows(n.len()).any(|w| w == n.as_bytes()),
            "plain text found in the database: a value of length {}",
            n.len()
        );
    }
}
