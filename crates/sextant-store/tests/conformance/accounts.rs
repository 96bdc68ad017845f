//! Conformance cases for accounts (users, tokens, roles, the audit log) and project deletion.

use std::sync::Arc;

use chrono::{Duration, Utc};
use sextant_api::*;
use sextant_store::*;
use uuid::Uuid;

use super::{dataset, job, model, project, seeded};

fn user(name: &str, admin: bool) -> UserRecord {
    UserRecord {
        user: User {
            name: name.into(),
            admin,
            disabled: false,
            has_password: false,
            created_at: Utc::now(),
        },
        password_hash: None,
    }
}

fn token(user: &str, hash: &str) -> TokenRecord {
    TokenRecord {
        info: TokenInfo {
            id: Uuid::new_v4(),
            user: user.into(),
            name: "t".into(),
            kind: "api".into(),
            created_at: Utc::now(),
            expires_at: Some(Utc::now() + Duration::days(1)),
            last_used_at: None,
            revoked_at: None,
        },
        hash: hash.into(),
    }
}

fn member(project: &str, user: &str, role: Role) -> Member {
    Member {
        project: project.into(),
        user: user.into(),
        role,
        granted_at: Utc::now(),
        granted_by: Some("admin".into()),
    }
}

pub async fn users_tokens_and_roles(store: Arc<dyn Metastore>) {
    assert!(
        store
            .create_first_user(&user("admin", true), &token("admin", "h0"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .create_first_user(&user("other", true), &token("other", "h9"))
            .await
            .unwrap()
    );
    assert!(matches!(
        store.user("other").await,
        Err(StoreError::NotFound { .. })
    ));
    store.create_user(&user("ann", false)).await.unwrap();
    assert!(matches!(
        store.create_user(&user("ann", false)).await,
        Err(StoreError::Conflict(_))
    ));
    let names: Vec<String> = store
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.user.name)
        .collect();
    assert_eq!(names, ["admin", "ann"]);

    let t = token("ann", "h1");
    store.add_token(&t).await.unwrap();
    assert!(matches!(
        store.add_token(&token("nobody", "h2")).await,
        Err(StoreError::Conflict(_))
    ));
    let (found, owner) = store.token_by_hash("h1").await.unwrap().unwrap();
    assert_eq!(found.info.id, t.info.id);
    assert_eq!(owner.user.name, "ann");
    assert!(store.token_by_hash("nope").await.unwrap().is_none());
    store.touch_token(t.info.id, Utc::now()).await.unwrap();
    assert!(
        store
            .token(t.info.id)
            .await
            .unwrap()
            .info
            .last_used_at
            .is_some()
    );
    assert!(store.revoke_token(t.info.id, Utc::now()).await.unwrap());
    assert!(!store.revoke_token(t.info.id, Utc::now()).await.unwrap());
    assert!(
        store
            .token(t.info.id)
            .await
            .unwrap()
            .info
            .revoked_at
            .is_some()
    );
    assert_eq!(store.tokens("ann").await.unwrap().len(), 1);

    let changed = store
        .update_user(
            "ann",
            &UserChange {
                disabled: Some(true),
                password_hash: Some("$argon2id$x".into()),
                ..UserChange::default()
            },
        )
        .await
        .unwrap();
    assert!(changed.user.disabled && changed.user.has_password && !changed.user.admin);
    assert!(matches!(
        store.update_user("nobody", &UserChange::default()).await,
        Err(StoreError::NotFound { .. })
    ));

    store
        .create_project(&project("p"), Some(&member("p", "ann", Role::Owner)))
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_project(&project("q"), Some(&member("q", "nobody", Role::Owner)))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.project("q").await,
        Err(StoreError::NotFound { .. })
    ));
    store.create_project(&project("r"), None).await.unwrap();
    store
        .set_member(&member("r", "ann", Role::Viewer))
        .await
        .unwrap();
    store
        .set_member(&member("r", "ann", Role::Editor))
        .await
        .unwrap();
    store
        .set_member(&member("r", "admin", Role::Viewer))
        .await
        .unwrap();
    let roles: Vec<(String, Role)> = store
        .memberships("ann")
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.project, m.role))
        .collect();
    assert_eq!(
        roles,
        [("p".into(), Role::Owner), ("r".into(), Role::Editor)]
    );
    assert_eq!(store.members("r").await.unwrap().len(), 2);
    assert!(store.remove_member("r", "ann").await.unwrap());
    assert!(!store.remove_member("r", "ann").await.unwrap());
    assert!(matches!(
        store.set_member(&member("nope", "ann", Role::Viewer)).await,
        Err(StoreError::Conflict(_))
    ));
}

pub async fn the_audit_log_is_read_newest_first_and_filtered(store: Arc<dyn Metastore>) {
    let start = Utc::now() - Duration::minutes(1);
    for (i, (user, project)) in [("ann", Some("p")), ("bob", None), ("ann", Some("q"))]
        .into_iter()
        .enumerate()
    {
        store
            .append_audit(&AuditEntry {
                id: 0,
                at: start + Duration::seconds(i as i64 * 10),
                user: Some(user.into()),
                action: "POST /api/v1/projects".into(),
                resource: "/api/v1/projects".into(),
                project: project.map(String::from),
                status: 201,
                outcome: "ok".into(),
                client: "127.0.0.1".into(),
            })
            .await
            .unwrap();
    }
    let all = store.audit(&AuditQuery::default()).await.unwrap();
    assert_eq!(all.len(), 3);
    assert!(all[0].id > all[1].id && all[1].id > all[2].id);
    assert_eq!(all[0].project.as_deref(), Some("q"));
    let ann = AuditQuery {
        user: Some("ann".into()),
        ..AuditQuery::default()
    };
    assert_eq!(store.audit(&ann).await.unwrap().len(), 2);
    let p = AuditQuery {
        project: Some("p".into()),
        ..AuditQuery::default()
    };
    assert_eq!(store.audit(&p).await.unwrap().len(), 1);
    let recent = AuditQuery {
        since: Some(start + Duration::seconds(5)),
        limit: Some(1),
        ..AuditQuery::default()
    };
    let recent = store.audit(&recent).await.unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].project.as_deref(), Some("q"));
}

pub async fn a_project_is_deleted_with_what_it_holds(store: Arc<dyn Metastore>) {
    seeded(&store).await;
    store.create_project(&project("other"), None).await.unwrap();
    store.add_model(&model("other", "m", "msha")).await.unwrap();
    store
        .add_dataset(&dataset("other", "d", "dsha"))
        .await
        .unwrap();
    let mine = store.create_job(&job("p", 0, "only-p")).await.unwrap();
    assert!(matches!(
        store.delete_project("p").await,
        Err(StoreError::Conflict(_))
    ));
    store
        .finish(mine.id, JobState::Succeeded, None)
        .await
        .unwrap();
    let shared = job("p", 0, "shared");
    let shared = store.create_job(&shared).await.unwrap();
    store
        .finish(shared.id, JobState::Succeeded, None)
        .await
        .unwrap();
    let theirs = store.create_job(&job("other", 0, "shared")).await.unwrap();
    store
        .finish(theirs.id, JobState::Succeeded, None)
        .await
        .unwrap();

    let remains = store.delete_project("p").await.unwrap();
    assert_eq!(remains.models.len(), 1);
    assert_eq!(remains.datasets.len(), 1);
    assert_eq!(remains.results, ["only-p"]);
    assert!(matches!(
        store.project("p").await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.job(mine.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(store.jobs(Some("p"), 10).await.unwrap().is_empty());
    assert!(store.content_in_use("msha").await.unwrap());
    assert_eq!(store.jobs_in(&["other".into()], 10).await.unwrap().len(), 1);
    assert!(store.jobs_in(&[], 10).await.unwrap().is_empty());
    assert!(matches!(
        store.delete_project("p").await,
        Err(StoreError::NotFound { .. })
    ));
}
