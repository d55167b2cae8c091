import Foundation

/// Headless Chromium for the tests that render a page (the HTML report, the coordinator's /ui).
/// Host names never resolve except 127.0.0.1 (`--host-resolver-rules`), so a page reaches
/// nothing but files and the loopback servers of the test.
public enum Chromium {
    /// The browser's path, or nil when none is installed (`.ci/run` installs Debian's chromium).
    public static func find() -> String? {
        ["chromium", "chromium-browser", "google-chrome"].lazy.compactMap(which).first
    }

    /// The flags of a quiet, isolated headless run with its profile in `profile`.
    public static func flags(profile: URL) -> [String] {
        ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-default-apps", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
         "--user-data-dir=" + profile.path]
    }

    static func which(_ name: String) -> String? {
        guard let out = try? run("/usr/bin/env", ["which", name]) else { return nil }
        let path = out.trimmingCharacters(in: .whitespacesAndNewlines)
        return path.isEmpty ? nil : path
    }

    /// Runs `path` with `arguments` (at most 120 s) and returns its standard output.
    public static func run(_ path: String, _ arguments: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path.hasPrefix("/") ? path : "/usr/bin/env")
        p.arguments = path.hasPrefix("/") ? arguments : [path] + arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        DispatchQueue.global().asyncAfter(deadline: .now() + 120) { if p.isRunning { p.terminate() } }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
