import Foundation
import Glibc
import LocalSupervision
import Logging
import Testing
import TrainyardBackends
import TrainyardConfiguration
import TrainyardTesting

/// The worker's configuration file, loaded in-process: the shipped examples load and route as
/// documented, broken files are refused with the file and field named, and each target type
/// builds its backend.
@Suite("Worker configuration files")
struct WorkerConfigFileTests {
    /// Writes `text` to a file of its own and loads it.
    func load(_ text: String, in directory: URL) throws -> WorkerConfigFile {
        let path = directory.appendingPathComponent("\(UUID().uuidString).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return try WorkerConfigFile.load(path: path)
    }

    @Test("the examples in ops/examples are valid and route as the README says")
    func examples() throws {
        let hybrid = try WorkerConfigFile.load(path: TestEnvironment.repositoryFile("ops/examples/worker-hybrid.yaml").path)
        #expect(hybrid.summary.contains("target sagemaker: sagemaker, concurrency 20"))
        #expect(hybrid.summary.contains("target k8s-search-gpu: kubernetes, concurrency 8"))
        #expect(hybrid.summary.contains("route kinds processing, training -> sagemaker"))
        #expect(hybrid.summary.contains("route otherwise -> k8s"))
        for name in ["worker-laptop.yaml", "worker-sagemaker.yaml", "worker-simulated.yaml"] {
            #expect(throws: Never.self, "\(name)") {
                try WorkerConfigFile.load(path: TestEnvironment.repositoryFile("ops/examples/\(name)").path)
            }
        }
    }

    @Test(
        "a rule naming a missing target, an unknown type, a missing required key and a zero limit are refused",
        arguments: [
            (
                "backends: [{name: a, type: local}]\nrouting: {default: a, rules: [{kinds: [training], backend: sm}]}\n",
                "routing names backend target \"sm\""
            ),
            ("backends: [{name: a, type: nomad}]\n", "unknown backend type \"nomad\""),
            ("backends: [{name: sm, type: sagemaker}]\n", "backends[0].roleArn: is required"),
            ("backends: [{name: a, type: local, concurrency: 0}]\n", "backends[0].concurrency"),
            ("backends: []\n", "`backends` lists no target"),
            ("secrets: {ownTeamPrefix: x}\nbackends: [{name: a, type: local}]\n", "ownTeamPrefix: must start with {team}"),
            ("backends: [{name: a, type: local, secrets: {grants: [{names: [x]}]}}]\n", "teams"),
        ])
    func brokenFile(text: String, message: String) throws {
        let directory = try TestEnvironment.temporaryDirectory("worker-config")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("broken.yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let error = try #require(throws: ConfigFileError.self) { try WorkerConfigFile.load(path: path) }
        #expect(error.path == path)
        #expect(error.description.hasPrefix("\(path): ") && error.description.contains(message), "\(error)")
    }

    @Test("the secret policy is read with the file: fleet rules, a target's own rules, the default without a section")
    func secretPolicy() throws {
        let directory = try TestEnvironment.temporaryDirectory("worker-config")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = try load(
            """
            secrets: {grants: [{teams: [search], names: [shared-token]}]}
            backends:
              - {name: a, type: local}
              - {name: b, type: simulated, secrets: {ownTeamPrefix: "{team}."}}
            """, in: directory)
        #expect(file.secretPolicy.rules(forTarget: "a").allows(team: "search", secretName: "shared-token"))
        #expect(!file.secretPolicy.rules(forTarget: "a").allows(team: "ads", secretName: "shared-token"))
        #expect(file.secretPolicy.rules(forTarget: "b").allows(team: "ads", secretName: "ads.key"))
        #expect(!file.secretPolicy.rules(forTarget: "b").allows(team: "search", secretName: "shared-token"))
        #expect(try load("backends: [{name: a, type: local}]\n", in: directory).secretPolicy == .ownTeamOnly)
        #expect(WorkerConfigFile.localOnly.secretPolicy == .ownTeamOnly)
    }

    @Test("runAs of a local target: a user by name or ids; refused for root, unknown users, or a worker that is not root")
    func runAs() throws {
        #expect(try LocalRunAs(user: "nobody").resolved(effectiveUID: 0) == JobUser(uid: 65534, gid: 65534))
        #expect(try LocalRunAs(uid: 65534, gid: 100).resolved(effectiveUID: 0) == JobUser(uid: 65534, gid: 100))
        #expect(try LocalRunAs(uid: 4242, gid: 4242).resolved(effectiveUID: 0) == JobUser(uid: 4242, gid: 4242))
        let refusals: [(LocalRunAs, uid_t, String)] = [
            (LocalRunAs(user: "nobody"), 1000, "the worker must run as root to start jobs as uid 65534 (it runs as uid 1000)"),
            (LocalRunAs(user: "root"), 0, "may not run as root"),
            (LocalRunAs(user: "no-such-user-xyz"), 0, "no user \"no-such-user-xyz\""),
            (LocalRunAs(uid: 4242), 0, "uid 4242 has no passwd entry: give its `gid`"),
            (LocalRunAs(), 0, "give `user` or `uid`"),
        ]
        for (setting, effectiveUID, message) in refusals {
            let error = try #require(throws: BackendTargetError.self) { try setting.resolved(effectiveUID: effectiveUID) }
            #expect(error.description.contains(message), "\(error)")
        }
        let directory = try TestEnvironment.temporaryDirectory("worker-config")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = try load("backends: [{name: a, type: local, runAs: {user: nobody}}]\n", in: directory)
        #expect(throws: Never.self) {
            try file.backends[0].settings.makeBackend(
                in: BackendEnvironment(stateDirectory: directory, secretsDirectory: nil, logger: Logger(label: "test")))
        }
    }

    @Test("without a file a worker has one local target that takes every job")
    func localOnly() {
        let file = WorkerConfigFile.localOnly
        #expect(file.backends.map(\.name) == ["local"])
        #expect(file.summary.prefix(2) == ["target local: local, concurrency default", "route otherwise -> local"])
    }

    @Test("the default concurrency is 16 per target, 4096 on simulated ones; an entry's own limit wins")
    func concurrency() throws {
        let directory = try TestEnvironment.temporaryDirectory("worker-config")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = try load(
            "backends: [{name: a, type: local}, {name: b, type: simulated, concurrency: 3}, {name: c, type: simulated}]\n", in: directory)
        #expect(file.backends.map(\.settings.defaultConcurrency) == [16, 4096, 4096])
        #expect(file.backends.map(\.concurrency) == [nil, 3, nil])
    }

    @Test("local and simulated targets build their backends from the file's settings")
    func factories() throws {
        let directory = try TestEnvironment.temporaryDirectory("worker-config")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = try load("backends: [{name: a, type: local}, {name: b, type: simulated, seconds: 0.5}]\n", in: directory)
        let environment = BackendEnvironment(
            stateDirectory: directory.appendingPathComponent("state"), secretsDirectory: nil, logger: Logger(label: "test"))
        let backends = try file.backends.map { try $0.settings.makeBackend(in: environment) }
        #expect(backends.count == 2)
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("state/simulated.sqlite").path))
    }

    @Test("a simulated target whose state file cannot be opened is refused with the target type named")
    func unusableStateFile() throws {
        let directory = try TestEnvironment.temporaryDirectory("worker-config")
        defer { try? FileManager.default.removeItem(at: directory) }
        let blocker = directory.appendingPathComponent("not-a-folder")
        try "x".write(to: blocker, atomically: true, encoding: .utf8)
        let file = try load("backends: [{name: b, type: simulated, stateFile: \(blocker.path)/ledger.sqlite}]\n", in: directory)
        let environment = BackendEnvironment(stateDirectory: directory, secretsDirectory: nil, logger: Logger(label: "test"))
        let error = try #require(throws: BackendTargetError.self) { try file.backends[0].settings.makeBackend(in: environment) }
        #expect(error.description.hasPrefix("simulated target: "))
    }
}
