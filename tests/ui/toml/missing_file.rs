use cnn_runtime::cnn_model;

cnn_model!(struct Net = "models/no_such_model.toml");

fn main() {}
