use cnn_runtime::cnn_model;

cnn_model!(struct Net = "/etc/model.toml");

fn main() {}
