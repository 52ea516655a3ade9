use cnn_runtime::cnn_model;

cnn_model!(struct Net = json("{}"));

fn main() {}
