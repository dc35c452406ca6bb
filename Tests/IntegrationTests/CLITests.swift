import Foundation
import Testing
import TrainyardTesting

/// The CLI's checks that need no broker: a spec is refused before anything is sent.
@Suite("CLI spec checks")
struct CLITests {
    @Test("submit refuses unknown fields (typos) and invalid values with exit 2, naming every field")
    func refusesUnknownFieldsAndInvalidValues() async throws {
        let directory = try TestEnvironment.temporaryDirectory("cli-spec")
        defer { try? FileManager.default.removeItem(at: directory) }
        let typo = directory.appendingPathComponent("typo.yaml")
        try "apiVersion: trainyard/v1\nname: x\nteam: t\ncommand: [\"true\"]\nmaxRuntime: 5\nresources: {cpus: 2}\n"
            .write(to: typo, atomically: true, encoding: .utf8)
        let invalid = directory.appendingPathComponent("invalid.json")
        try #"{"apiVersion": "trainyard/v1", "name": "x", "team": "t", "command": ["true"], "resources": {"cpu": -1}}"#
            .write(to: invalid, atomically: true, encoding: .utf8)
        // An unreachable broker: nothing may be sent, so nothing may wait for it either.
        let environment = ProcessInfo.processInfo.environment.merging(["TRAINYARD_BROKERS": "127.0.0.1:1"]) { _, new in new }
        let executable = try TestEnvironment.executable()

        let typoResult = try await TestEnvironment.run(executable, ["submit", typo.path], environment: environment)
        #expect(typoResult.status == 2, "\(typoResult)")
        #expect(typoResult.errors.contains("\(typo.path): maxRuntime: is not a field of a job spec"), "\(typoResult)")
        #expect(typoResult.errors.contains("\(typo.path): resources.cpus: is not a field of a job spec"), "\(typoResult)")

        let invalidResult = try await TestEnvironment.run(executable, ["submit", invalid.path], environment: environment)
        #expect(invalidResult.status == 2 && invalidResult.errors.contains("\(invalid.path): resources.cpu:"), "\(invalidResult)")
        #expect(invalidResult.output.isEmpty, "no job id is printed for a refused spec")
    }
}
