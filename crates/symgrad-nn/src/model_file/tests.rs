//! Model files: bytes round-trip bit for bit, every malformed file is a
//! clear error, and saving replaces the file whole.

use super::*;

/// A hand-written model, `y = w·x + b` with a running "state" vector, so
/// that these tests need nothing but the trait.
#[derive(Debug)]
struct Linear {
    w: Vec<f64>,
    b: Vec<f64>,
    running: Vec<f64>,
}

impl Linear {
    fn new() -> Linear {
        Linear {
            w: vec![0.0; 6],
            b: vec![0.0; 2],
            running: vec![0.0; 2],
        }
    }
}

impl Model for Linear {
    fn param_names(&self) -> Vec<String> {
        vec!["w".into(), "b".into()]
    }
    fn param_shapes(&self) -> Vec<Vec<usize>> {
        vec![vec![2, 3], vec![2]]
    }
    fn params(&self) -> Vec<&[f64]> {
        vec![&self.w, &self.b]
    }
    fn params_mut(&mut self) -> Vec<&mut [f64]> {
        vec![&mut self.w, &mut self.b]
    }
    fn data_sizes(&self) -> Vec<usize> {
        vec![3, 2]
    }
    fn n_inputs(&self) -> usize {
        1
    }
    fn output_size(&self) -> usize {
        2
    }
    fn loss_and_gradient(&mut self, _: &[&[f64]], _: &mut [Vec<f64>]) -> f64 {
        unreachable!("not trained in these tests")
    }
    fn loss(&mut self, _: &[&[f64]]) -> f64 {
        unreachable!("not evaluated in these tests")
    }
    fn predict(&mut self, _: &[&[f64]], _: &mut Vec<f64>) {
        unreachable!("not evaluated in these tests")
    }
    fn state_names(&self) -> Vec<String> {
        vec!["bn.mean".into()]
    }
    fn state(&self) -> Vec<&[f64]> {
        vec![&self.running]
    }
    fn state_mut(&mut self) -> Vec<&mut [f64]> {
        vec![&mut self.running]
    }
    fn set_seed(&mut self, _: u64) {}
    fn source(&self) -> Option<&str> {
        Some("input x[3]\ntarget y[2]\n# \"quoted\" and a tab:\t\n")
    }
}

/// Values that a decimal printer gets wrong easily: signed zero, a
/// subnormal, the extremes, a non-terminating binary fraction, and the
/// three non-finite values.
fn awkward() -> Linear {
    let mut m = Linear::new();
    m.w = vec![
        -0.0,
        5e-324,
        f64::MAX,
        0.1 + 0.2,
        -1.0 / 3.0,
        f64::MIN_POSITIVE,
    ];
    m.b = vec![f64::NAN, f64::NEG_INFINITY];
    m.running = vec![f64::INFINITY, 1e300];
    m
}

fn history() -> History {
    History {
        param_names: vec!["w".into(), "b".into()],
        epochs: vec![
            Epoch {
                epoch: 1,
                lr: 0.1,
                train_loss: 0.75,
                val_loss: Some(0.5),
                val_accuracy: Some(0.25),
                train_accuracy: None,
                grad_norms: vec![1.5, 1e-12],
                seconds: 0.0,
            },
            Epoch {
                epoch: 2,
                lr: 0.09,
                train_loss: f64::NAN,
                val_loss: None,
                val_accuracy: None,
                train_accuracy: Some(1.0),
                grad_norms: vec![f64::INFINITY, 0.0],
                seconds: 0.0,
            },
        ],
        best_epoch: Some(1),
        stopped: Some("the loss was not finite at epoch 2, step 3".into()),
    }
}

fn bits(values: &[&[f64]]) -> Vec<Vec<u64>> {
    values
        .iter()
        .map(|v| v.iter().map(|x| x.to_bits()).collect())
        .collect()
}

#[test]
fn every_value_round_trips_bit_for_bit() {
    let model = awkward();
    let mut file = ModelFile::from_model(&model, None).unwrap();
    file.history = history();
    file.training = serde_json::json!({"optimizer": "adam", "lr": 0.01});
    let text = file.to_json();
    let back = ModelFile::parse(&text).unwrap();
    let mut fresh = Linear::new();
    back.apply(&mut fresh).unwrap();
    assert_eq!(bits(&fresh.params()), bits(&model.params()));
    assert_eq!(bits(&fresh.state()), bits(&model.state()));
    assert_eq!(back.network, model.source().unwrap());
    assert_eq!(back.training, file.training);
    // NaN != NaN, so the history is compared through its text.
    assert_eq!(history_json(&back.history), history_json(&file.history));
    // Written again from what was read, the bytes are the same.
    let mut again = ModelFile::from_model(&fresh, None).unwrap();
    again.history = back.history.clone();
    again.training = back.training.clone();
    assert_eq!(again.to_json(), text);
}

#[test]
fn the_params_have_the_form_net_init_writes() {
    let mut model = Linear::new();
    model.w = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.5];
    let text = ModelFile::from_model(&model, None).unwrap().to_json();
    let root: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(root["format"], "symgrad-model");
    assert_eq!(root["version"], 1);
    assert_eq!(root["params"]["w"]["shape"], serde_json::json!([2, 3]));
    assert_eq!(
        root["params"]["w"]["data"],
        serde_json::json!([1.0, 2.0, 3.0, 4.0, 5.0, 6.5])
    );
    assert_eq!(root["params"]["b"]["shape"], serde_json::json!([2]));
    assert_eq!(root["state"]["bn.mean"]["shape"], serde_json::json!([2]));
}

fn error_of(text: &str) -> Error {
    ModelFile::parse(text).unwrap_err()
}

#[test]
fn malformed_files_are_clear_errors() {
    let e = error_of("{\"format\": \"symgrad-model\",\n  \"version\": 1,,}");
    assert_eq!(e.kind(), ErrorKind::Syntax);
    assert!(e.message().contains("line 2, column"), "{e}");

    let e = error_of("[1, 2]");
    assert_eq!(e.kind(), ErrorKind::Format);
    assert!(e.message().contains("JSON object"), "{e}");

    let e = error_of(r#"{"format": "symgrad-params", "version": 1, "params": {}}"#);
    assert!(e.message().contains("parameter file"), "{e}");

    let e = error_of(r#"{"format": "symgrad-model", "version": 7}"#);
    assert!(e.message().contains("version 7 is not supported"), "{e}");

    let e = error_of(r#"{"format": "symgrad-model", "version": 1, "params": {}}"#);
    assert!(e.message().contains("\"network\""), "{e}");

    let e = error_of(
        r#"{"format": "symgrad-model", "version": 1, "network": "", "params": {"w": {"shape": [2], "data": [1]}}}"#,
    );
    assert!(e.message().contains("'w' has 1 entries"), "{e}");

    let e = error_of(
        r#"{"format": "symgrad-model", "version": 1, "network": "", "params": {"w": {"shape": [1], "data": ["one"]}}}"#,
    );
    assert!(e.message().contains("\"one\" is not a number"), "{e}");
}

fn with_params(params: &str) -> ModelFile {
    ModelFile::parse(&format!(
        r#"{{"format": "symgrad-model", "version": 1, "network": "", "params": {params}, "state": {{"bn.mean": {{"shape": [2], "data": [0, 0]}}}}}}"#
    ))
    .unwrap()
}

#[test]
fn params_that_do_not_fit_the_network_are_named() {
    let mut m = Linear::new();
    let e = with_params(
        r#"{"w": {"shape": [3, 2], "data": [1,2,3,4,5,6]}, "b": {"shape": [2], "data": [0, 0]}}"#,
    )
    .apply(&mut m)
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Mismatch);
    assert!(e.message().contains("'w' has shape [3, 2]"), "{e}");

    let e = with_params(r#"{"w": {"shape": [2, 3], "data": [1,2,3,4,5,6]}}"#)
        .apply(&mut m)
        .unwrap_err();
    assert!(e.message().contains("no parameter 'b'"), "{e}");

    let e = with_params(r#"{"w": {"shape": [2, 3], "data": [1,2,3,4,5,6]}, "b": {"shape": [2], "data": [0, 0]}, "c": {"shape": [], "data": [0]}}"#)
        .apply(&mut m)
        .unwrap_err();
    assert!(e.message().contains("parameter 'c'"), "{e}");
    // Nothing was copied by a failed apply.
    assert_eq!(m.w, vec![0.0; 6]);
}

#[test]
fn a_network_that_does_not_build_shows_why() {
    let file = ModelFile::from_model(&awkward(), None).unwrap();
    let e = file
        .build(|_| -> Result<Linear, String> { Err("line 1: expected a shape".into()) })
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Network);
    assert!(e.message().contains("expected a shape"), "{e}");
    let built = file.build(|_| Ok(Linear::new())).unwrap();
    assert_eq!(bits(&built.params()), bits(&awkward().params()));
}

#[test]
fn save_replaces_the_file_whole_and_leaves_no_temporary() {
    let dir = std::env::temp_dir().join(format!("symgrad-model-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.json");
    std::fs::write(&path, "old").unwrap();
    let file = ModelFile::from_model(&awkward(), None).unwrap();
    save(&path, &file).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), file.to_json());
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("m.json")]);
    let loaded = load(&path).unwrap();
    let mut m = Linear::new();
    loaded.apply(&mut m).unwrap();
    assert_eq!(bits(&m.params()), bits(&awkward().params()));
    // A directory that does not exist: an error, and nothing written.
    let e = save(&dir.join("missing").join("m.json"), &file).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    let e = load(&dir.join("absent.json")).unwrap_err();
    assert!(e.message().contains("cannot read the model file"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A network file with random initializers and a batch norm, so that
/// parameters and state are both non-trivial.
const NET: &str = "input  x[3]
target y[2]
param  W1[4, 3] ~ normal(0, 1)
param  b1[4]    ~ uniform(-1, 1)
param  g[4]     = 1 + 0.1*i
param  c[4]     = 0
param  W2[2, 4] ~ xavier
param  b2[2]    = 0
a1 = tanh(batchnorm(W1 @ x + b1, g, c))
p = softmax(W2 @ a1 + b2)
loss = cross_entropy(p, y)
";

#[test]
fn a_network_model_rebuilds_from_its_file_with_every_bit() {
    let mut model = NetworkModel::from_source(NET, 11).unwrap();
    // A few training calls move batch norm's running statistics.
    let x = [0.5, -1.0, 2.0, 1.5, 0.25, -0.75, -2.0, 1.0, 0.0];
    let y = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0];
    let mut grad: Vec<Vec<f64>> = model.params().iter().map(|p| vec![0.0; p.len()]).collect();
    for _ in 0..3 {
        model.loss_and_gradient(&[&x, &y], &mut grad);
    }
    assert!(model
        .state()
        .iter()
        .any(|s| s.iter().any(|&v| v != 0.0 && v != 1.0)));
    let text = ModelFile::from_model(&model, None).unwrap().to_json();
    let mut rebuilt = ModelFile::parse(&text).unwrap().network_model().unwrap();
    assert_eq!(bits(&rebuilt.params()), bits(&model.params()));
    assert_eq!(bits(&rebuilt.state()), bits(&model.state()));
    assert_eq!(rebuilt.state_names(), model.state_names());
    // The same predictions, in inference mode.
    let (mut a, mut b) = (Vec::new(), Vec::new());
    model.predict(&[&x], &mut a);
    rebuilt.predict(&[&x], &mut b);
    assert_eq!(bits(&[&a]), bits(&[&b]));
    // A network that no longer parses shows the parser's message and caret.
    let mut file = ModelFile::parse(&text).unwrap();
    file.network = NET.replace("W1 @ x", "W1 @ @ x");
    let e = file.network_model().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Network);
    assert!(
        e.message().contains("W1 @ @ x") && e.message().contains('^'),
        "{e}"
    );
}
