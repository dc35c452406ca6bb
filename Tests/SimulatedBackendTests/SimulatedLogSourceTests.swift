import SimulatedBackend
import Testing
import TrainyardBackends
import TrainyardCore

@Suite("Simulated log source")
struct SimulatedLogSourceTests {
    func read(_ query: LogQuery) async throws -> String {
        var text = ""
        for try await chunk in try await SimulatedLogSource().read(query, attemptEnded: { true }) { text += chunk }
        return text
    }

    @Test("one scripted line on stdout, none on stderr or with tail 0")
    func scriptedLine() async throws {
        let identity = BackendIdentity(jobID: JobID.generate(), attempt: 2, team: "alpha")
        #expect(try await read(LogQuery(identity: identity)) == "simulated attempt 2 of job \(identity.jobID): no process ran, nothing was printed\n")
        #expect(try await read(LogQuery(identity: identity, streams: .stderr)) == "")
        #expect(try await read(LogQuery(identity: identity, tail: 0)) == "")
        #expect(try await read(LogQuery(identity: identity, streams: .all, follow: true)).hasPrefix("simulated attempt 2"))
    }
}
