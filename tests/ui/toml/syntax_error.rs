// A TOML syntax error: the message names the line and column in the text.
use cnn_runtime::cnn_model;

cnn_model! {
    struct Net = toml(r#"
input = [1, 28, 28
"#);
}

fn main() {}
