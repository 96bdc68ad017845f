//! Conformance cases for segments and feature groups.

use std::sync::Arc;

use chrono::Utc;
use sextant_api::*;
use sextant_store::*;

use super::project;

fn segment(project: &str, name: &str, group: Option<&str>) -> Segment {
    Segment {
        project: project.into(),
        name: name.into(),
        expression: format!("x > {}", name.len()),
        group: group.map(String::from),
        protected: group.is_some(),
        created_at: Utc::now(),
        created_by: Some("ada".into()),
    }
}

pub async fn segments_are_unique_per_project_and_go_with_it(store: Arc<dyn Metastore>) {
    store.create_project(&project("p"), None).await.unwrap();
    store.create_project(&project("q"), None).await.unwrap();
    let young = segment("p", "young", Some("age"));
    store.add_segment(&young).await.unwrap();
    store.add_segment(&segment("p", "all", None)).await.unwrap();
    store
        .add_segment(&segment("p", "eu", Some("region")))
        .await
        .unwrap();
    // The same name in another project is another segment.
    store
        .add_segment(&segment("q", "young", None))
        .await
        .unwrap();
    assert!(matches!(
        store.add_segment(&segment("p", "young", None)).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.add_segment(&segment("nowhere", "x", None)).await,
        Err(StoreError::NotFound { .. })
    ));
    let got = store.segment("p", "young").await.unwrap();
    assert_eq!(got.expression, young.expression);
    assert_eq!(got.group.as_deref(), Some("age"));
    assert!(got.protected);
    assert_eq!(got.created_by.as_deref(), Some("ada"));
    assert_eq!(
        got.created_at.timestamp_millis(),
        young.created_at.timestamp_millis()
    );
    // Ungrouped first, then by group, then by name.
    let names: Vec<String> = store
        .segments("p")
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["all", "young", "eu"]);
    assert_eq!(store.delete_segment("p", "all").await.unwrap().name, "all");
    assert!(matches!(
        store.segment("p", "all").await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.delete_segment("p", "all").await,
        Err(StoreError::NotFound { .. })
    ));
    store.delete_project("p").await.unwrap();
    store.create_project(&project("p"), None).await.unwrap();
    assert!(store.segments("p").await.unwrap().is_empty());
    assert_eq!(store.segments("q").await.unwrap().len(), 1);
}

pub async fn feature_groups_are_unique_per_project_and_go_with_it(store: Arc<dyn Metastore>) {
    store.create_project(&project("p"), None).await.unwrap();
    let group = FeatureGroup {
        project: "p".into(),
        name: "money".into(),
        features: vec!["x".into(), "y".into()],
        created_at: Utc::now(),
        created_by: None,
    };
    store.add_feature_group(&group).await.unwrap();
    let other = FeatureGroup {
        name: "alone".into(),
        features: vec!["x".into()],
        ..group.clone()
    };
    store.add_feature_group(&other).await.unwrap();
    assert!(matches!(
        store.add_feature_group(&group).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .add_feature_group(&FeatureGroup {
                project: "nowhere".into(),
                ..group.clone()
            })
            .await,
        Err(StoreError::NotFound { .. })
    ));
    let listed = store.feature_groups("p").await.unwrap();
    let names: Vec<&str> = listed.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["alone", "money"]);
    assert_eq!(listed[1].features, ["x", "y"]);
    assert_eq!(
        store
            .delete_feature_group("p", "alone")
            .await
            .unwrap()
            .features,
        ["x"]
    );
    assert!(matches!(
        store.delete_feature_group("p", "alone").await,
        Err(StoreError::NotFound { .. })
    ));
    store.delete_project("p").await.unwrap();
    store.create_project(&project("p"), None).await.unwrap();
    assert!(store.feature_groups("p").await.unwrap().is_empty());
}
