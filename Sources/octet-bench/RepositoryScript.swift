import Foundation

/// One of the repository's Python scripts (`scripts/NAME`), run by the interpreter the bench was
/// given: the baselines (ONNX Runtime, a plain Python pipeline) and their comparisons.
enum RepositoryScript {
    /// The script's path, found from this source file (the bench runs from a checkout).
    static func path(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/\(name)").path
    }

    /// Runs `python scripts/NAME ARGUMENTS…` to completion; its exit status and standard output
    /// (standard error is discarded). Throws when the interpreter cannot be started.
    static func run(python: String, _ name: String, _ arguments: [String]) throws -> (status: Int32, output: Data) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [python, path(name)] + arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        try p.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, output)
    }
}
