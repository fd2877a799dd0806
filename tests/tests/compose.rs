//! `compose.yaml` checked against the Compose specification (by the `compose_spec` parser, since
//! no container engine runs here), and against what a Sigma deployment needs: the engines, two
//! of each Sigma process kind, S3 for media, every process on the same log and store, the
//! control planes on the same database and keys, the playback nodes on the same signing keys,
//! and no process given a database or a key it does not use.

use std::collections::BTreeMap;

use compose_spec::Compose;

fn compose() -> Compose {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../compose.yaml");
    let text = std::fs::read_to_string(path).expect("compose.yaml at the top of the repository");
    let compose = Compose::options()
        .apply_merge(true)
        .from_yaml_str(&text)
        .unwrap_or_else(|error| panic!("compose.yaml is not valid Compose: {error}"));
    compose
        .validate_all()
        .unwrap_or_else(|error| panic!("compose.yaml is inconsistent: {error}"));
    compose
}

/// The environment of service `name`, as strings.
fn environment(compose: &Compose, name: &str) -> BTreeMap<String, String> {
    let service = &compose.services[name];
    let value = serde_yaml::to_value(&service.environment).expect("an environment");
    serde_yaml::from_value::<BTreeMap<String, serde_yaml::Value>>(value)
        .unwrap_or_default()
        .into_iter()
        .map(|(key, value)| {
            let text = match value {
                serde_yaml::Value::String(text) => text,
                other => serde_yaml::to_string(&other).unwrap().trim().to_owned(),
            };
            (key, text)
        })
        .collect()
}

#[test]
fn the_compose_file_is_valid_and_runs_the_whole_topology() {
    let compose = compose();
    let names: Vec<&str> = compose.services.keys().map(|name| name.as_str()).collect();
    for engine in ["kafka", "postgres", "minio", "playback-front"] {
        assert!(names.contains(&engine), "{engine} is missing: {names:?}");
    }
    let sigma: Vec<&str> = names
        .iter()
        .copied()
        .filter(|name| environment(&compose, name).contains_key("SIGMA_KAFKA_BROKERS"))
        .collect();
    let role = |name: &str| {
        let command = serde_yaml::to_value(&compose.services[name].command).unwrap();
        match command.as_sequence().and_then(|args| args.first()) {
            Some(serde_yaml::Value::String(role)) => role.clone(),
            _ => "run".to_owned(),
        }
    };
    for kind in ["control", "worker", "playback"] {
        let count = sigma.iter().filter(|name| role(name) == kind).count();
        assert_eq!(count, 2, "two `sigma {kind}` processes: {sigma:?}");
    }
    // Every Sigma process shares the log and the store; the control planes also the database
    // and the keys, of which playback nodes have the signing keys and workers none.
    let everyone = [
        "SIGMA_KAFKA_BROKERS",
        "SIGMA_OBJECT_STORE_URL",
        "AWS_ENDPOINT",
    ];
    let given = |key: &str, role: &str| match key {
        "SIGMA_SIGNING_KEYS" => role != "worker",
        _ => role == "control",
    };
    let keys = [
        "SIGMA_DATABASE_URL",
        "SIGMA_ADMIN_KEY",
        "SIGMA_SECRETS_KEY",
        "SIGMA_SIGNING_KEYS",
    ];
    let platform = sigma
        .iter()
        .find(|name| role(name) == "control")
        .expect("a control plane");
    let first = environment(&compose, platform);
    assert!(
        first["SIGMA_OBJECT_STORE_URL"].starts_with("s3://"),
        "{first:?}"
    );
    for name in &sigma {
        let env = environment(&compose, name);
        for key in everyone {
            assert_eq!(env.get(key), first.get(key), "{name}: {key}");
        }
        for key in keys {
            let expected = given(key, &role(name)).then(|| &first[key]);
            assert_eq!(env.get(key), expected, "{name}: {key}");
        }
    }
}
