import Foundation
import Testing
import TrainyardTesting

/// One writer per store, with real aggregator processes.
@Suite("One aggregator per store")
struct StoreLockFleetTests {
    @Test("a second aggregator on the same store waits, saying who holds it, and takes over when the first stops")
    func secondAggregatorWaits() async throws {
        try await Fleet.with(name: "store-lock") { fleet in
            let firstPort = try Fleet.freePort()
            try fleet.startAggregator("aggregator", httpPort: firstPort)
            let firstReady = try await eventually(timeout: .seconds(120)) { (try? await Fleet.get(port: firstPort, path: "/readyz"))?.0 == 200 }
            try #require(firstReady, "the first aggregator never became ready:\n\(fleet.logTail("aggregator"))")

            let secondPort = try Fleet.freePort()
            try fleet.startAggregator("second", httpPort: secondPort)
            let waiting = try await eventually(timeout: .seconds(120)) { fleet.logTail("second").contains("waiting for the store") }
            try #require(waiting, "the second aggregator did not say it waits:\n\(fleet.logTail("second"))")
            #expect(fleet.logTail("second").contains("another aggregator (pid "), "\(fleet.logTail("second"))")
            // It serves nothing (not even /healthz) until it holds the store.
            #expect((try? await Fleet.get(port: secondPort, path: "/healthz")) == nil)
            #expect(fleet.isRunning("second"))

            #expect(await fleet.stop("aggregator") == 0, "\(fleet.logTail("aggregator"))")
            let secondReady = try await eventually(timeout: .seconds(120)) { (try? await Fleet.get(port: secondPort, path: "/readyz"))?.0 == 200 }
            #expect(secondReady, "the second aggregator did not take over:\n\(fleet.logTail("second"))")
        }
    }
}
