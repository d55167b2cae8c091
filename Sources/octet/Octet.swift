import ArgumentParser

/// Entry point of the `octet` CLI.
@main
struct Octet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "octet",
        abstract: "Turn FP32 ONNX CNNs into accurate INT8 models and serve fast batch inference on x86 CPUs.",
        subcommands: [Inspect.self, Run.self, Bench.self, Calibrate.self, QuantizeCommand.self, Eval.self, Zoo.self,
                      CoordinatorCommand.self, WorkerCommand.self, SubmitCommand.self, FetchCommand.self, StatusCommand.self,
                      KeysCommand.self, ClusterCommand.self])
}
