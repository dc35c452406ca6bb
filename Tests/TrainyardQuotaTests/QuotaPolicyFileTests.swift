import Foundation
import Testing
import TrainyardConfiguration
import TrainyardQuota

/// The quotas file: inheritance from defaults, refusals, and reloading without a restart.
@Suite("Quota policy file")
struct QuotaPolicyFileTests {
    func write(_ text: String, to path: String, modified: Date) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.modificationDate: modified], ofItemAtPath: path)
    }

    func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("quotas-\(UUID().uuidString).yaml").path
    }

    @Test("teams inherit each limit they leave out from the defaults; unnamed teams get the defaults")
    func inheritance() throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try write(
            """
            defaults: {maxAttempts: 8, maxCPUs: 16, targets: {gpu: {maxGPUs: 2}}}
            teams:
              vision: {maxAttempts: 4, maxGPUs: 8, weight: 2, targets: {gpu: {maxAttempts: 1}}}
            """, to: path, modified: Date())
        let policy = try QuotaPolicyFile.load(path: path)
        #expect(
            policy.limits(team: "vision", target: "gpu")
                == ClaimLimits(
                    team: QuotaLimit(maxAttempts: 4, maxGPUs: 8, maxCPUs: 16), target: QuotaLimit(maxAttempts: 1, maxGPUs: 2)))
        #expect(policy.limits(team: "vision", target: "cpu") == ClaimLimits(team: QuotaLimit(maxAttempts: 4, maxGPUs: 8, maxCPUs: 16)))
        #expect(
            policy.limits(team: "nlp", target: "gpu") == ClaimLimits(team: QuotaLimit(maxAttempts: 8, maxCPUs: 16), target: QuotaLimit(maxGPUs: 2)))
        #expect(policy.weight(team: "vision") == 2)
        #expect(policy.weight(team: "nlp") == 1)
        #expect(policy.limitsAnything)
        #expect(!QuotaPolicy.unlimited.limitsAnything)
    }

    @Test(
        "a misspelt key, a negative limit and a zero weight are refused with the place named",
        arguments: [
            ("teams: {vision: {maxAttemps: 4}}", "maxAttemps"),
            ("defaults: {maxGPUs: -1}", "must not be negative"),
            ("teams: {vision: {weight: 0}}", "weight must be above 0"),
            ("quotas: {}", "quotas"),
        ])
    func refusals(text: String, expected: String) throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try write(text, to: path, modified: Date())
        let error = #expect(throws: ConfigFileError.self) { try QuotaPolicyFile.load(path: path) }
        #expect(error?.description.contains(expected) == true, "\(String(describing: error))")
    }

    @Test("a changed file is reloaded; a broken one is reported once and leaves the last good policy in force")
    func reload() throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        try write("defaults: {maxAttempts: 2}\n", to: path, modified: start)
        let reloader = try QuotaPolicyReloader(path: path)
        #expect(reloader.policy.quota(team: "a").limit.maxAttempts == 2)
        guard case .unchanged = reloader.reloadIfChanged() else {
            Issue.record("an unchanged file was reloaded")
            return
        }
        try write("defaults: {maxAttempts: 5}\n", to: path, modified: start.addingTimeInterval(10))
        guard case .reloaded(let policy) = reloader.reloadIfChanged() else {
            Issue.record("a changed file was not reloaded")
            return
        }
        #expect(policy.quota(team: "a").limit.maxAttempts == 5)
        #expect(reloader.policy == policy)
        try write("defaults: {maxAttempts: many}\n", to: path, modified: start.addingTimeInterval(20))
        guard case .refused = reloader.reloadIfChanged() else {
            Issue.record("a broken file was not refused")
            return
        }
        guard case .unchanged = reloader.reloadIfChanged() else {
            Issue.record("a broken file was reported twice")
            return
        }
        #expect(reloader.policy.quota(team: "a").limit.maxAttempts == 5, "the last good policy stays in force")
    }
}
