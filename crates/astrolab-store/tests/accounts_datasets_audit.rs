//! Migration 6 on both backends: accounts, tokens, sessions, datasets and
//! their effect on cone searches, the append-only audit log.

mod common;

use astrolab_store::{
    AuditEvent, ConeQuery, IngestOptions, NewApiToken, NewSession, NewUser, Progress, Role, Store,
    StoreError, Visibility,
};
use common::*;

fn user(name: &str, role: Role, projects: &[&str]) -> NewUser {
    NewUser {
        username: name.into(),
        role,
        password_hash: Some(format!("$argon2id$v=19$fake${name}")),
        oidc_subject: None,
        email: Some(format!("{name}@lab.example")),
        projects: projects.iter().map(|p| p.to_string()).collect(),
    }
}

#[test]
fn roles_order_and_parse() {
    assert!(Role::Viewer < Role::Researcher && Role::Researcher < Role::Admin);
    assert_eq!("Admin".parse::<Role>().unwrap(), Role::Admin);
    let err = "root".parse::<Role>().unwrap_err().to_string();
    assert!(err.contains("viewer, researcher or admin"), "{err}");
    assert_eq!(
        serde_json::to_string(&Role::Researcher).unwrap(),
        "\"researcher\""
    );
    assert_eq!(
        "restricted".parse::<Visibility>().unwrap(),
        Visibility::Restricted
    );
}

#[test]
fn users_tokens_and_sessions() {
    let (_d, cfgs) = backends("accounts");
    for cfg in cfgs {
        let mut s = Store::open(&cfg).unwrap();
        let alice = s.create_user(&user("alice", Role::Admin, &[])).unwrap();
        let bob = s
            .create_user(&user("bob", Role::Researcher, &["voids", "hline", "voids"]))
            .unwrap();
        assert_eq!(bob.projects, vec!["hline".to_string(), "voids".to_string()]);
        assert_eq!(bob.role, Role::Researcher);
        assert!(!bob.disabled);
        match s.create_user(&user("bob", Role::Viewer, &[])) {
            Err(StoreError::BadRequest { field, .. }) => assert_eq!(field, "username"),
            other => panic!("duplicate username: {other:?}"),
        }
        match s.create_user(&user("bad name; drop", Role::Viewer, &[])) {
            Err(StoreError::BadRequest { field, .. }) => assert_eq!(field, "username"),
            other => panic!("bad username: {other:?}"),
        }
        let (u, hash) = s.user_by_name("bob").unwrap().unwrap();
        assert_eq!(u, bob);
        assert_eq!(hash.as_deref(), Some("$argon2id$v=19$fake$bob"));
        assert!(s.user_by_name("carol").unwrap().is_none());
        assert_eq!(
            s.user_by_id(alice.user_id).unwrap().unwrap().username,
            "alice"
        );

        // OIDC identities are unique.
        let mut carol = user("carol", Role::Viewer, &[]);
        carol.password_hash = None;
        carol.oidc_subject = Some("https://login.example|123".into());
        let carol = s.create_user(&carol).unwrap();
        assert_eq!(
            s.user_by_oidc_subject("https://login.example|123")
                .unwrap()
                .unwrap()
                .user_id,
            carol.user_id
        );
        let mut dup = user("dave", Role::Viewer, &[]);
        dup.oidc_subject = Some("https://login.example|123".into());
        match s.create_user(&dup) {
            Err(StoreError::BadRequest { field, .. }) => assert_eq!(field, "oidc_subject"),
            other => panic!("duplicate subject: {other:?}"),
        }
        assert_eq!(s.list_users().unwrap().len(), 3);

        assert_eq!(s.count_active_admins().unwrap(), 1);
        assert!(s.set_user_role("bob", Role::Admin).unwrap());
        assert_eq!(s.count_active_admins().unwrap(), 2);
        assert!(s.set_user_role("bob", Role::Researcher).unwrap());
        assert!(!s.set_user_role("nobody", Role::Admin).unwrap());
        assert!(s.set_user_projects("bob", &["desi".to_string()]).unwrap());
        assert_eq!(
            s.user_by_name("bob").unwrap().unwrap().0.projects,
            vec!["desi".to_string()]
        );
        assert!(s.set_password_hash("bob", "$argon2id$new").unwrap());
        assert_eq!(
            s.user_by_name("bob").unwrap().unwrap().1.as_deref(),
            Some("$argon2id$new")
        );

        // Tokens.
        let t = s
            .create_api_token(&NewApiToken {
                user_id: bob.user_id,
                name: "laptop".into(),
                prefix: "al_abc123".into(),
                token_hash: "hash-1".into(),
                role: Role::Researcher,
                expires_at_unix: 2_000,
            })
            .unwrap();
        assert_eq!(
            (t.username.as_str(), t.role, t.revoked_at.as_deref()),
            ("bob", Role::Researcher, None)
        );
        match s.create_api_token(&NewApiToken {
            user_id: bob.user_id,
            name: "again".into(),
            prefix: "al_abc123".into(),
            token_hash: "hash-2".into(),
            role: Role::Viewer,
            expires_at_unix: 2_000,
        }) {
            Err(StoreError::BadRequest { field, .. }) => assert_eq!(field, "prefix"),
            other => panic!("duplicate prefix: {other:?}"),
        }
        let (found, owner) = s.api_token_by_hash("hash-1").unwrap().unwrap();
        assert_eq!((found.token_id, owner.user_id), (t.token_id, bob.user_id));
        assert!(found.usable(1_999) && !found.usable(2_000));
        assert_eq!(found.effective_role(&owner), Role::Researcher);
        assert!(s.api_token_by_hash("hash-x").unwrap().is_none());
        s.touch_api_token(t.token_id, 1_000).unwrap();
        let listed = s.list_api_tokens(Some(bob.user_id)).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(
            listed[0].last_used_at.as_deref(),
            Some("1970-01-01T00:16:40Z")
        );
        assert!(s.list_api_tokens(Some(alice.user_id)).unwrap().is_empty());
        assert!(s.revoke_api_token("al_abc123").unwrap());
        assert!(!s.revoke_api_token("al_abc123").unwrap(), "already revoked");
        let (revoked, _) = s.api_token_by_hash("hash-1").unwrap().unwrap();
        assert!(revoked.revoked_at.is_some() && !revoked.usable(1_000));
        // By id too.
        let t2 = s
            .create_api_token(&NewApiToken {
                user_id: alice.user_id,
                name: "ci".into(),
                prefix: "al_zzz".into(),
                token_hash: "hash-3".into(),
                role: Role::Viewer,
                expires_at_unix: 5_000,
            })
            .unwrap();
        assert!(s.revoke_api_token(&t2.token_id.to_string()).unwrap());
        assert_eq!(s.list_api_tokens(None).unwrap().len(), 2);

        // Sessions.
        let sess = |hash: &str, exp| NewSession {
            session_hash: hash.into(),
            user_id: bob.user_id,
            csrf_token: format!("csrf-{hash}"),
            created_at_unix: 100,
            expires_at_unix: exp,
            source: "password 127.0.0.1".into(),
        };
        s.create_session(&sess("s1", 1_000)).unwrap();
        s.create_session(&sess("s2", 500)).unwrap();
        let (info, u) = s.session_by_hash("s1", 600).unwrap().unwrap();
        assert_eq!(
            (info.csrf_token.as_str(), u.username.as_str()),
            ("csrf-s1", "bob")
        );
        assert!(s.session_by_hash("s2", 600).unwrap().is_none(), "expired");
        assert_eq!(s.delete_expired_sessions(600).unwrap(), 1);
        assert!(s.delete_session("s1").unwrap());
        assert!(s.session_by_hash("s1", 600).unwrap().is_none());
        // Disabling a user ends their sessions.
        s.create_session(&sess("s3", 1_000)).unwrap();
        assert!(s.set_user_disabled("bob", true).unwrap());
        assert!(s.session_by_hash("s3", 600).unwrap().is_none());
        assert!(!s.delete_session("s3").unwrap(), "deleted with the disable");
        assert!(s.user_by_name("bob").unwrap().unwrap().0.disabled);
        assert!(s.set_user_disabled("bob", false).unwrap());
        assert!(!s.set_user_disabled("nobody", true).unwrap());
    }
}

#[test]
fn restricted_datasets_hide_rows_from_cones() {
    let (dir, cfgs) = backends("datasets");
    // Two files with points around the same centre.
    let (mut ra, mut dec) = (Vec::new(), Vec::new());
    let mut rng = Rng::new(3);
    for _ in 0..200 {
        ra.push(150.0 + rng.uniform() - 0.5);
        dec.push(2.0 + rng.uniform() - 0.5);
    }
    let pub_path = dir.path().join("zpix-public.fits");
    let res_path = dir.path().join("zpix-secret.fits");
    write_zcatalog(&pub_path, &ra[..100], &dec[..100], 1);
    write_zcatalog(&res_path, &ra[100..], &dec[100..], 2);
    for cfg in cfgs {
        let mut s = Store::open(&cfg).unwrap();
        for p in [&pub_path, &res_path] {
            s.ingest_file(p, &IngestOptions::default(), &mut Progress::none())
                .unwrap();
        }
        let files = s.raw_files().unwrap();
        let secret = files
            .iter()
            .find(|f| f.name.contains("secret"))
            .unwrap()
            .file_id;
        let public = files
            .iter()
            .find(|f| f.name.contains("public"))
            .unwrap()
            .file_id;

        let d = s
            .upsert_dataset(
                "lab-private",
                "unpublished",
                Visibility::Restricted,
                &["voids".into()],
            )
            .unwrap();
        assert_eq!((d.files, d.visibility), (0, Visibility::Restricted));
        assert!(s.add_file_to_dataset("lab-private", secret).unwrap());
        assert!(
            !s.add_file_to_dataset("lab-private", secret).unwrap(),
            "already in"
        );
        assert!(matches!(
            s.add_file_to_dataset("nope", secret),
            Err(StoreError::BadRequest { .. })
        ));
        assert!(matches!(
            s.add_file_to_dataset("lab-private", 9_999),
            Err(StoreError::BadRequest { .. })
        ));
        s.upsert_dataset("dr1", "DESI DR1", Visibility::Public, &[])
            .unwrap();
        s.add_file_to_dataset("dr1", public).unwrap();
        let all = s.list_datasets().unwrap();
        assert_eq!(
            all.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
            ["dr1", "lab-private"]
        );
        let private = s.dataset("lab-private").unwrap().unwrap();
        assert_eq!((private.files, private.rows), (1, 100));
        assert!(private.bytes > 0);
        assert_eq!(private.projects, vec!["voids".to_string()]);

        let outsider = s.forbidden_file_ids(&["hline".into()], false).unwrap();
        assert_eq!(outsider, vec![secret]);
        assert!(s
            .forbidden_file_ids(&["voids".into()], false)
            .unwrap()
            .is_empty());
        assert!(s.forbidden_file_ids(&[], true).unwrap().is_empty());
        assert!(!s
            .can_read_dataset("lab-private", &["hline".into()], false)
            .unwrap());
        assert!(s
            .can_read_dataset("lab-private", &["voids".into()], false)
            .unwrap());
        assert!(s.can_read_dataset("lab-private", &[], true).unwrap());
        assert!(s.can_read_dataset("dr1", &[], false).unwrap());
        assert!(!s.can_read_dataset("nope", &[], true).unwrap());

        let cone = |s: &mut Store, exclude: Vec<i64>| {
            s.cone(&ConeQuery {
                table: "zcatalog".into(),
                ra_deg: 150.0,
                dec_deg: 2.0,
                radius_deg: 2.0,
                exclude_file_ids: exclude,
                ..Default::default()
            })
            .unwrap()
        };
        let everything = cone(&mut s, vec![]);
        assert_eq!(everything.rows.len(), 200);
        let visible = cone(&mut s, outsider.clone());
        assert_eq!(visible.rows.len(), 100);
        let fi = visible.column_index("file_id").unwrap();
        assert!(visible.rows.iter().all(|r| r[fi].as_i64() == Some(public)));
        if s.has_q3c() {
            // Both PostgreSQL spatial paths honour the exclusion.
            s.set_q3c(false).unwrap();
            assert_eq!(cone(&mut s, outsider.clone()).rows.len(), 100);
            s.set_q3c(true).unwrap();
        }
        // Excluding several ids, one unknown.
        assert_eq!(cone(&mut s, vec![secret, public, 12345]).rows.len(), 0);

        // Making the dataset public again opens it.
        s.upsert_dataset("lab-private", "now public", Visibility::Public, &[])
            .unwrap();
        assert!(s.forbidden_file_ids(&[], false).unwrap().is_empty());
        assert_eq!(
            s.dataset("lab-private").unwrap().unwrap().description,
            "now public"
        );

        assert!(s.database_size_bytes().unwrap() > 0);
        let counts = s.table_row_counts().unwrap();
        assert!(
            counts.contains(&("zcatalog".to_string(), 200)),
            "{counts:?}"
        );
        assert_eq!(counts.len(), astrolab_store::schema::TABLES.len());
    }
}

/// A new version of a restricted file stays restricted.
#[test]
fn restriction_follows_new_versions() {
    let (dir, cfgs) = backends("dataset_versions");
    let p = dir.path().join("zpix-v.fits");
    let (ra, dec) = (vec![10.0, 10.1], vec![5.0, 5.1]);
    for cfg in cfgs {
        write_zcatalog(&p, &ra, &dec, 1);
        let mut s = Store::open(&cfg).unwrap();
        s.ingest_file(&p, &IngestOptions::default(), &mut Progress::none())
            .unwrap();
        let v1 = s.raw_files().unwrap()[0].file_id;
        s.upsert_dataset("secret", "", Visibility::Restricted, &["x".into()])
            .unwrap();
        s.add_file_to_dataset("secret", v1).unwrap();
        write_zcatalog(&p, &ra, &dec, 99);
        s.ingest_file(
            &p,
            &IngestOptions { new_version: true },
            &mut Progress::none(),
        )
        .unwrap();
        let ids: Vec<i64> = s.raw_files().unwrap().iter().map(|f| f.file_id).collect();
        assert_eq!(ids.len(), 2);
        assert_eq!(s.forbidden_file_ids(&[], false).unwrap(), ids);
        let d = s.dataset("secret").unwrap().unwrap();
        assert_eq!((d.files, d.rows), (1, 2), "the live version only");
    }
}

#[test]
fn audit_log_is_append_only() {
    let (_d, cfgs) = backends("audit");
    for cfg in cfgs {
        let mut s = Store::open(&cfg).unwrap();
        let mut e = AuditEvent::new("alice", "127.0.0.1", "login", "alice", "success");
        e.details = serde_json::json!({"method": "password"});
        let id1 = s.append_audit(&e).unwrap();
        let id2 = s
            .append_audit(&AuditEvent::new(
                "anonymous",
                "10.0.0.9",
                "login",
                "bob",
                "failure",
            ))
            .unwrap();
        assert!(id2 > id1);
        let all = s.list_audit(10, None).unwrap();
        assert_eq!(
            all.iter().map(|r| r.event_id).collect::<Vec<_>>(),
            vec![id2, id1]
        );
        assert_eq!(all[1].event, e);
        assert_eq!(s.list_audit(10, Some(id2)).unwrap().len(), 1);
        assert_eq!(s.list_audit(1, None).unwrap()[0].event_id, id2);
        let json = serde_json::to_value(&all[1]).unwrap();
        assert_eq!(json["action"], "login");
        assert_eq!(json["details"]["method"], "password");

        // Raw SQL cannot change or remove events.
        for sql in [
            "UPDATE audit_log SET outcome = 'success'",
            "DELETE FROM audit_log",
        ] {
            let err = raw_sql(&cfg, sql).expect_err(sql);
            assert!(err.contains("append-only"), "{sql}: {err}");
        }
        if cfg.database_url.is_some() {
            let err = raw_sql(&cfg, "TRUNCATE audit_log").expect_err("truncate");
            assert!(err.contains("append-only"), "{err}");
        }
        assert_eq!(s.list_audit(10, None).unwrap(), all);
    }
}
