import Foundation
import OctetTestSupport
import Testing

/// The deployment files against the CLI they drive: every `octet` invocation in
/// `docker/compose.yml` and `cluster/*.yaml` must name a real subcommand and pass only options
/// that subcommand's `--help` lists, so renaming or removing a flag breaks this test instead of a
/// deployment. Also the Dockerfile's stages and the kustomization's completeness.
/// No YAML library: manifests are read line by line (`ManifestCommands`), and any value under
/// `command:`/`args:` that is not a plain list or string is reported rather than skipped.
@Suite struct DeploymentFilesTests {
    static func read(_ relative: String) throws -> String {
        try String(contentsOf: TestPaths.repoRoot.appendingPathComponent(relative), encoding: .utf8)
    }

    static func clusterManifests() throws -> [String] {
        let dir = TestPaths.repoRoot.appendingPathComponent("cluster").path
        return try FileManager.default.contentsOfDirectory(atPath: dir)
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
            .sorted()
    }

    // MARK: (a) octet invocations

    @Test func composeInvocationsUseRealSubcommandsAndFlags() throws {
        let file = "docker/compose.yml"
        let found = ManifestCommands.extract(try Self.read(file), file: file, dialect: .compose)
        #expect(found.problems.isEmpty, "\(found.problems)")
        let subcommands = found.invocations.compactMap(\.arguments.first)
        #expect(subcommands.filter { $0 == "coordinator" }.count == 1, "\(found.invocations)")
        #expect(subcommands.filter { $0 == "worker" }.count == 3, "\(found.invocations)")
        let help = OctetHelp()
        for invocation in found.invocations {
            let problems = try help.problems(invocation.arguments)
            #expect(problems.isEmpty, "\(invocation): \(problems)")
        }
        // Workers reach the coordinator by its service name.
        let services = Set(try Self.read(file).split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("  "), !line.hasPrefix("   "), line.hasSuffix(":") else { return nil }
            return String(line.dropFirst(2).dropLast())
        })
        for invocation in found.invocations where invocation.arguments.first == "worker" {
            let host = try #require(invocation.connectHost, "\(invocation) has no --connect tcp://HOST:PORT")
            #expect(services.contains(host), "\(invocation): no service '\(host)' in \(file)")
        }
    }

    @Test func clusterInvocationsUseRealSubcommandsAndFlags() throws {
        var invocations: [OctetInvocation] = []
        for name in try Self.clusterManifests() {
            let file = "cluster/" + name
            let found = ManifestCommands.extract(try Self.read(file), file: file, dialect: .kubernetes)
            #expect(found.problems.isEmpty, "\(found.problems)")
            invocations += found.invocations
        }
        let subcommands = invocations.compactMap(\.arguments.first)
        #expect(subcommands.contains("coordinator"), "\(invocations)")
        #expect(subcommands.contains("worker"), "\(invocations)")
        let help = OctetHelp()
        for invocation in invocations {
            let problems = try help.problems(invocation.arguments)
            #expect(problems.isEmpty, "\(invocation): \(problems)")
        }
        // Workers reach the coordinator through its Service.
        let coordinator = try Self.read("cluster/coordinator.yaml")
        for invocation in invocations where invocation.arguments.first == "worker" {
            let host = try #require(invocation.connectHost, "\(invocation) has no --connect tcp://HOST:PORT")
            #expect(coordinator.contains("name: \(host)\n"), "\(invocation): no Service '\(host)' in cluster/coordinator.yaml")
        }
    }

    /// The checks above can fail: made-up flags and subcommands, flags given the wrong arity,
    /// and manifests the line reader cannot follow are all reported.
    @Test func checkerRejectsMadeUpFlagsAndSubcommands() throws {
        let compose = """
            services:
              a:
                command: [worker, --connect, "tcp://x:5555", --made-up-flag, "1"]
              b:
                command:
                  - coordinator
                  - --bind=tcp://127.0.0.1:5555
                  - --insecure=yes   # a flag takes no value
                  - --state
              c:
                command: corodinator --bind tcp://127.0.0.1:5555
              d:
                command: ["submit", "calibrate", "m.onnx", "--data", "/data", "--keys", "k.key", "--server-key", "s.pub"]
            """
        let found = ManifestCommands.extract(compose, file: "inline", dialect: .compose)
        #expect(found.problems.isEmpty, "\(found.problems)")
        try #require(found.invocations.count == 4, "\(found.invocations)")
        let help = OctetHelp()
        #expect(try help.problems(found.invocations[0].arguments).contains { $0.contains("--made-up-flag") })
        let b = try help.problems(found.invocations[1].arguments)
        #expect(b.contains { $0.contains("--insecure") }, "\(b)")
        #expect(b.contains { $0.contains("--state") }, "\(b)")
        #expect(!b.contains { $0.contains("--bind") }, "\(b)")
        #expect(try help.problems(found.invocations[2].arguments).contains { $0.contains("corodinator") })
        #expect(try help.problems(found.invocations[3].arguments).isEmpty)

        // Kubernetes: `args:` are octet's, a `command:` only when it starts with octet.
        let pod = """
            containers:
              - name: w
                command: ["octet"]
                args:
                - worker
                - --bogus
                livenessProbe:
                  exec:
                    command: [cat, /proc/1/status]
              - name: x
                command: [/usr/local/bin/octet, status, --json]
            """
        let k8s = ManifestCommands.extract(pod, file: "inline", dialect: .kubernetes)
        #expect(k8s.invocations.map(\.arguments) == [["worker", "--bogus"], ["status", "--json"]])
        #expect(try !help.problems(k8s.invocations[0].arguments).isEmpty)
        #expect(try help.problems(k8s.invocations[1].arguments).isEmpty)

        for unreadable in ["command: >\n  worker --connect x\n", "command:\n  - --keys: x\n", "command: [worker, --connect\n", "command:\n  foo: bar\n"] {
            #expect(!ManifestCommands.extract(unreadable, file: "inline", dialect: .compose).problems.isEmpty, "\(unreadable)")
        }
        #expect(!ManifestCommands.extract("args:\n- --keys: x\n", file: "inline", dialect: .kubernetes).problems.isEmpty)
        // Compose `build: args:` are not octet's.
        #expect(ManifestCommands.extract("build:\n  args:\n    OCTET_UID: 1\n", file: "inline", dialect: .compose).invocations.isEmpty)
    }

    // MARK: (b) Dockerfile

    @Test func dockerfileBuildsOctetInReleaseAndRunsOnSlimDebian() throws {
        let instructions = DockerfileInstructions.parse(try Self.read("docker/Dockerfile"))
        var args: [String: String] = [:]
        var stages: [(image: String, body: [DockerfileInstructions.Instruction])] = []
        for i in instructions {
            if i.op == "ARG", stages.isEmpty {
                let parts = i.arguments.split(separator: "=", maxSplits: 1).map(String.init)
                if parts.count == 2 { args[parts[0]] = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
            } else if i.op == "FROM" {
                let image = i.arguments.split(separator: " ").map(String.init).first { !$0.hasPrefix("--") } ?? ""
                stages.append((DockerfileInstructions.substitute(image, args), []))
            } else if !stages.isEmpty {
                stages[stages.count - 1].body.append(i)
            }
        }
        try #require(stages.count >= 2, "a build stage and a runtime stage: \(stages.map(\.image))")
        let build = stages[0], runtime = stages[stages.count - 1]
        #expect(build.image.hasPrefix("swift:") && build.image.contains("bookworm"), "build stage: \(build.image)")
        #expect(runtime.image.hasPrefix("debian:") && runtime.image.contains("slim"), "runtime stage: \(runtime.image)")
        let swiftBuilds = build.body.filter { $0.op == "RUN" && $0.arguments.contains("swift build") }
        #expect(swiftBuilds.contains {
            ($0.arguments.contains("-c release") || $0.arguments.contains("--configuration release"))
                && $0.arguments.contains("--product octet")
        }, "no `swift build -c release --product octet` in the build stage")
        #expect(runtime.body.contains { $0.op == "COPY" && $0.arguments.contains("--from=") && $0.arguments.contains("octet") })
        #expect(runtime.body.contains { $0.op == "ENTRYPOINT" && $0.arguments.contains("octet") })
        let users = runtime.body.filter { $0.op == "USER" }.map(\.arguments)
        #expect(!users.isEmpty && users.last != "root" && users.last != "0", "the runtime stage runs as root")
    }

    // MARK: (c) kustomization and probes

    @Test func kustomizationListsEveryManifestAndCoordinatorProbesStatus() throws {
        let kustomization = try Self.read("cluster/kustomization.yaml")
        let listed = ManifestCommands.topLevelList(kustomization, key: "resources")
            + ManifestCommands.topLevelList(kustomization, key: "generators")
        let manifests = try Self.clusterManifests().filter { $0 != "kustomization.yaml" && $0 != "kustomization.yml" }
        #expect(!manifests.isEmpty)
        for m in manifests { #expect(listed.contains(m), "cluster/\(m) is not listed in cluster/kustomization.yaml") }
        for l in listed {
            #expect(FileManager.default.fileExists(atPath: TestPaths.repoRoot.appendingPathComponent("cluster/" + l).path),
                    "cluster/kustomization.yaml lists missing \(l)")
        }

        let coordinator = try Self.read("cluster/coordinator.yaml")
        for probe in ["livenessProbe", "readinessProbe"] {
            let blocks = ManifestCommands.blocks(coordinator, key: probe)
            #expect(!blocks.isEmpty, "no \(probe) in cluster/coordinator.yaml")
            for block in blocks {
                #expect(block.contains("httpGet:") && block.contains("path: /status"), "\(probe): \(block)")
            }
        }

        // Every Secret and claim the Deployments mount is defined here.
        let defined = Set(try (["secrets.yaml", "pvc.yaml"]).flatMap { try ManifestCommands.values(Self.read("cluster/" + $0), key: "name") })
        for file in ["coordinator.yaml", "workers.yaml"] {
            let text = try Self.read("cluster/" + file)
            for ref in ManifestCommands.values(text, key: "secretName") + ManifestCommands.values(text, key: "claimName") {
                #expect(defined.contains(ref), "cluster/\(file) mounts '\(ref)', which secrets.yaml/pvc.yaml do not define")
            }
        }
    }
}

// MARK: - Reading manifests

/// One `octet` command line found in a manifest: the arguments after `octet`.
struct OctetInvocation: CustomStringConvertible, Sendable {
    var file: String
    var line: Int
    var arguments: [String]

    var description: String { "\(file):\(line): octet \(arguments.joined(separator: " "))" }

    /// HOST of `--connect tcp://HOST:PORT`.
    var connectHost: String? {
        var value: String?
        for (i, a) in arguments.enumerated() {
            if a == "--connect", i + 1 < arguments.count { value = arguments[i + 1] }
            if a.hasPrefix("--connect=") { value = String(a.dropFirst("--connect=".count)) }
        }
        guard let v = value, v.hasPrefix("tcp://") else { return nil }
        let host = v.dropFirst("tcp://".count).prefix { $0 != ":" }
        return host.isEmpty ? nil : String(host)
    }
}

/// A line-based reader of the `command:`/`args:` values in compose files and Kubernetes
/// manifests: flow lists (`[a, "b"]`, possibly over several lines), block lists (`- a`), and plain
/// strings (split on spaces). Block scalars, nested structures and unclosed lists are problems.
enum ManifestCommands {
    struct Extraction {
        var invocations: [OctetInvocation] = []
        var problems: [String] = []
    }

    enum Dialect {
        /// The image's ENTRYPOINT is `octet`, so a service's `command:` is octet's arguments
        /// (`args:` only occurs under `build:`).
        case compose
        /// `command:` replaces the entrypoint: an invocation only when it starts with `octet`
        /// (not, say, an exec probe); `args:` are always octet's arguments.
        case kubernetes
    }

    static func extract(_ text: String, file: String, dialect: Dialect) -> Extraction {
        let keys = dialect == .compose ? ["command"] : ["command", "args"]
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { stripComment(String($0)) }
        var out = Extraction()
        var i = 0
        while i < lines.count {
            let lineNumber = i + 1
            var content = lines[i].trimmingCharacters(in: .whitespaces)
            var keyIndent = indentation(lines[i])
            if content.hasPrefix("- ") {
                content = String(content.dropFirst(2)).trimmingCharacters(in: .whitespaces)
                keyIndent += 2
            }
            i += 1
            guard let key = keys.first(where: { content.hasPrefix($0 + ":") }) else { continue }
            let rest = String(content.dropFirst(key.count + 1)).trimmingCharacters(in: .whitespaces)
            let place = "\(file):\(lineNumber)"
            var items: [String] = []
            if rest.isEmpty {
                while i < lines.count {
                    let t = lines[i].trimmingCharacters(in: .whitespaces)
                    if t.isEmpty { i += 1; continue }
                    guard indentation(lines[i]) >= keyIndent, t == "-" || t.hasPrefix("- ") else { break }
                    items.append(String(t.dropFirst(1)).trimmingCharacters(in: .whitespaces))
                    i += 1
                }
                if items.isEmpty { out.problems.append("\(place): `\(key):` with no list under it"); continue }
            } else if rest.hasPrefix("[") {
                var flow = rest
                var attempt = flowList(flow)
                while attempt == nil, i < lines.count {
                    flow += " " + lines[i].trimmingCharacters(in: .whitespaces)
                    i += 1
                    attempt = flowList(flow)
                }
                guard let parsed = attempt else { out.problems.append("\(place): unclosed `[` list"); continue }
                guard parsed.trailing.trimmingCharacters(in: .whitespaces).isEmpty else {
                    out.problems.append("\(place): text after the list: \(parsed.trailing)")
                    continue
                }
                items = parsed.items
            } else if rest.hasPrefix("|") || rest.hasPrefix(">") || rest.hasPrefix("{") || rest.hasPrefix("&") || rest.hasPrefix("*") {
                out.problems.append("\(place): unsupported `\(key):` form '\(rest)' (use a list)")
                continue
            } else {
                let plain = unquote(rest)
                if plain.contains("\"") || plain.contains("'") {
                    out.problems.append("\(place): quotes inside a command string (use a list)")
                    continue
                }
                items = plain.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            }
            var arguments: [String] = []
            var structured = false
            for raw in items {
                let quoted = raw.hasPrefix("\"") || raw.hasPrefix("'")
                if !quoted && (raw.contains(": ") || raw.hasSuffix(":") || raw.hasPrefix("[") || raw.hasPrefix("{")) { structured = true }
                arguments.append(unquote(raw))
            }
            if structured { out.problems.append("\(place): `\(key):` holds more than strings: \(items)"); continue }
            if let first = arguments.first, first == "octet" || first.hasSuffix("/octet") {
                arguments.removeFirst()
            } else if key == "command" && dialect == .kubernetes {
                continue  // another program (e.g. an exec probe)
            }
            if arguments.isEmpty { continue }  // `command: [octet]`, its arguments under `args:`
            out.invocations.append(OctetInvocation(file: file, line: lineNumber, arguments: arguments))
        }
        return out
    }

    /// Items of `key:`'s block list at the top level (`resources:`, `generators:`), `./` removed.
    static func topLevelList(_ text: String, key: String) -> [String] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { stripComment(String($0)) }
        guard let start = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == key + ":" && indentation($0) == 0 }) else { return [] }
        var items: [String] = []
        for line in lines[(start + 1)...] {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { continue }
            guard t.hasPrefix("- ") else { break }
            var item = unquote(String(t.dropFirst(2)).trimmingCharacters(in: .whitespaces))
            if item.hasPrefix("./") { item.removeFirst(2) }
            items.append(item)
        }
        return items
    }

    /// The trimmed lines nested under each `key:` line.
    static func blocks(_ text: String, key: String) -> [[String]] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { stripComment(String($0)) }
        var result: [[String]] = []
        for (n, line) in lines.enumerated() where line.trimmingCharacters(in: .whitespaces) == key + ":" {
            var block: [String] = []
            for next in lines[(n + 1)...] {
                let t = next.trimmingCharacters(in: .whitespaces)
                if t.isEmpty { continue }
                guard indentation(next) > indentation(line) else { break }
                block.append(t)
            }
            result.append(block)
        }
        return result
    }

    /// Every scalar value of `key: value` (also as `- key: value`).
    static func values(_ text: String, key: String) -> [String] {
        text.split(separator: "\n").compactMap { raw -> String? in
            var t = stripComment(String(raw)).trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("- ") { t = String(t.dropFirst(2)) }
            guard t.hasPrefix(key + ":") else { return nil }
            let v = unquote(String(t.dropFirst(key.count + 1)).trimmingCharacters(in: .whitespaces))
            return v.isEmpty ? nil : v
        }
    }

    static func indentation(_ line: String) -> Int { line.prefix { $0 == " " }.count }

    /// Drops a `#` comment: a `#` at the start or after a space, outside quotes.
    static func stripComment(_ line: String) -> String {
        var out = ""
        var quote: Character?
        var previous: Character = " "
        for c in line {
            if let q = quote {
                if c == q { quote = nil }
            } else if (c == "\"" || c == "'") && " [,{:-".contains(previous) {
                quote = c
            } else if c == "#" && previous.isWhitespace {
                break
            }
            out.append(c)
            previous = c
        }
        return out
    }

    /// The items of a flow list at the start of `text` and what follows it; nil if it is not closed.
    static func flowList(_ text: String) -> (items: [String], trailing: String)? {
        var items: [String] = []
        var current = ""
        var quote: Character?
        var depth = 0
        var index = text.startIndex
        while index < text.endIndex {
            let c = text[index]
            index = text.index(after: index)
            if let q = quote {
                current.append(c)
                if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
                current.append(c)
            } else if c == "[" {
                depth += 1
                if depth > 1 { current.append(c) }
            } else if c == "]" {
                depth -= 1
                if depth > 0 { current.append(c); continue }
                let last = current.trimmingCharacters(in: .whitespaces)
                if !last.isEmpty { items.append(last) }
                return (items, String(text[index...]))
            } else if c == "," && depth == 1 {
                items.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
            } else {
                current.append(c)
            }
        }
        return nil
    }

    static func unquote(_ s: String) -> String {
        if s.count >= 2, s.hasPrefix("\""), s.hasSuffix("\"") {
            return String(s.dropFirst().dropLast()).replacingOccurrences(of: "\\\"", with: "\"").replacingOccurrences(of: "\\\\", with: "\\")
        }
        if s.count >= 2, s.hasPrefix("'"), s.hasSuffix("'") {
            return String(s.dropFirst().dropLast()).replacingOccurrences(of: "''", with: "'")
        }
        return s
    }
}

// MARK: - The CLI's help

/// `octet … --help` pages, each run once: subcommand names and options (and whether each takes a value).
final class OctetHelp {
    struct Page {
        var usage = ""
        var subcommands: [String] = []
        /// Option name (`--bind`, `-h`) → whether it takes a value.
        var options: [String: Bool] = [:]
    }

    private var pages: [[String]: Page] = [:]

    func page(_ path: [String]) throws -> Page {
        if let p = pages[path] { return p }
        let r = try runProduct("octet", path + ["--help"])
        guard r.status == 0 else {
            throw HelpFailure(message: "`octet \(path.joined(separator: " ")) --help` exited with \(r.status): \(r.stderr)")
        }
        let p = Self.parse(r.stdout)
        pages[path] = p
        return p
    }

    /// What is wrong with `octet ARGUMENTS` as far as the help pages tell: an unknown subcommand,
    /// an option the subcommand does not list, a value given to a flag or missing from an option.
    func problems(_ arguments: [String]) throws -> [String] {
        var path: [String] = []
        var rest = arguments
        var page = try page([])
        while !page.subcommands.isEmpty {
            let name = path.isEmpty ? "octet" : "octet " + path.joined(separator: " ")
            guard let next = rest.first else { return ["`\(name)` needs a subcommand: \(page.subcommands)"] }
            guard page.subcommands.contains(next) else { return ["`\(name)` has no subcommand `\(next)` (it has \(page.subcommands))"] }
            path.append(next)
            rest.removeFirst()
            page = try self.page(path)
            let usage = "USAGE: octet " + path.joined(separator: " ")
            guard page.usage == usage || page.usage.hasPrefix(usage + " ") else {
                return ["`octet \(path.joined(separator: " ")) --help` shows another command's usage: \(page.usage)"]
            }
        }
        let command = "octet " + path.joined(separator: " ")
        var problems: [String] = []
        var k = 0
        while k < rest.count {
            let token = rest[k]
            k += 1
            if token == "--" { break }
            guard token.hasPrefix("-"), token.count > 1 else { continue }
            let name = String(token.prefix { $0 != "=" })
            let inline = token.contains("=")
            guard let takesValue = page.options[name] else {
                problems.append("`\(name)` is not an option of `\(command)`")
                continue
            }
            if takesValue && !inline {
                if k < rest.count && !rest[k].hasPrefix("--") { k += 1 } else { problems.append("`\(name)` of `\(command)` needs a value") }
            } else if !takesValue && inline {
                problems.append("`\(name)` of `\(command)` is a flag and takes no value")
            }
        }
        return problems
    }

    /// Reads ArgumentParser's help: `USAGE: …`, and in the SUBCOMMANDS and OPTIONS sections the
    /// entries indented by exactly two spaces (descriptions wrap at a deeper indent).
    static func parse(_ text: String) -> Page {
        var page = Page()
        var section = ""
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if line.hasPrefix("USAGE: ") { page.usage = line; continue }
            if !line.hasPrefix(" "), line.hasSuffix(":") { section = line; continue }
            guard line.hasPrefix("  "), !line.hasPrefix("   ") else { continue }
            let entry = String(line.dropFirst(2))
            if section == "SUBCOMMANDS:" {
                let name = entry.prefix { !$0.isWhitespace }
                if let f = name.first, f.isLowercase { page.subcommands.append(String(name)) }  // not "See 'octet help …'"
            } else if section.hasSuffix("OPTIONS:") {
                // "-h, --help   Show…", "--bind <bind>   ZeroMQ…", "--authorized <authorized>" (description below)
                let spec = entry.components(separatedBy: "  ").first ?? entry
                for part in spec.components(separatedBy: ", ") {
                    let name = part.prefix { !$0.isWhitespace }
                    if name.hasPrefix("-") { page.options[String(name)] = part.contains("<") }
                }
            }
        }
        return page
    }

    struct HelpFailure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }
}

// MARK: - Reading the Dockerfile

enum DockerfileInstructions {
    struct Instruction {
        var op: String
        var arguments: String
    }

    /// Instructions with continuation lines joined; comments and blank lines dropped.
    static func parse(_ text: String) -> [Instruction] {
        var result: [Instruction] = []
        var pending = ""
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasSuffix("\\") {
                pending += String(line.dropLast()) + " "
                continue
            }
            pending += line
            let op = String(pending.prefix { !$0.isWhitespace })
            let arguments = String(pending.dropFirst(op.count)).trimmingCharacters(in: .whitespaces)
            // Collapse runs of spaces left by continuation lines, so "-c  release" still reads "-c release".
            let collapsed = arguments.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            result.append(Instruction(op: op.uppercased(), arguments: collapsed))
            pending = ""
        }
        return result
    }

    /// Replaces `${NAME}` and `$NAME` with the ARG defaults declared before the first FROM.
    static func substitute(_ s: String, _ args: [String: String]) -> String {
        var out = s
        for (name, value) in args {
            out = out.replacingOccurrences(of: "${\(name)}", with: value).replacingOccurrences(of: "$\(name)", with: value)
        }
        return out
    }
}
