import Foundation
import HTTPTypes
import Testing
import TrainyardAPI
import TrainyardCore
import TrainyardStore

/// `GET /v1/spend` and the per-attempt costs of `GET /v1/jobs/{id}`, in-process.
@Suite("Spend API in-process")
struct SpendAPITests {
    /// Records a terminal event with a cost for attempt `attempt` of `id`, as the aggregator would.
    func charge(_ api: InProcessAPI, _ id: String, team: String, attempt: Int, usd: Double, backend: String, at time: Date, offset: Int64)
        throws
    {
        let store = try JobStore(path: api.directory.appendingPathComponent("trainyard.db").path)
        let event = LifecycleEvent(
            jobID: JobID(id)!, attempt: attempt, state: attempt == 1 ? .failed : .succeeded, source: .backend, occurredAt: time, team: team,
            backend: backend, costUSD: usd, billedSeconds: 60, costIsEstimate: backend == "sagemaker" ? true : nil)
        try store.apply([IngestMessage(position: MessagePosition(topic: "events", partition: 0, offset: offset), record: .event(event))])
    }

    @Test("totals by team and backend; a team key sees only its team and cannot ask for another; the job shows each attempt's cost")
    func spendReport() async throws {
        let api = try InProcessAPI()
        try await api.test { client in
            let alphaJob = try await client.submit("a-job", team: "alpha", key: api.alpha)
            let betaJob = try await client.submit("b-job", team: "beta", key: api.admin)
            let now = Date()
            try charge(api, alphaJob, team: "alpha", attempt: 1, usd: 0.25, backend: "local", at: now.addingTimeInterval(-60), offset: 1)
            try charge(api, alphaJob, team: "alpha", attempt: 2, usd: 1.5, backend: "sagemaker", at: now.addingTimeInterval(-30), offset: 2)
            try charge(api, betaJob, team: "beta", attempt: 1, usd: 4, backend: "local", at: now.addingTimeInterval(-10), offset: 3)

            let all = try await client.call(.get, "/v1/spend", key: api.admin)
            #expect(all.status == 200, "\(all.text)")
            #expect(try all.json()["totalUSD"] as? Double == 5.75)
            let groups = try #require(try all.json()["groups"] as? [[String: Any]])
            #expect(groups.map { $0["key"] as? String } == ["alpha", "beta"])
            #expect(groups.map { $0["costUSD"] as? Double } == [1.75, 4])
            #expect(groups.map { $0["includesEstimates"] as? Bool } == [true, false])

            let byBackend = try await client.call(.get, "/v1/spend?groupBy=backend", key: api.admin)
            let backendGroups = try #require(try byBackend.json()["groups"] as? [[String: Any]])
            #expect(backendGroups.map { $0["key"] as? String } == ["local", "sagemaker"])
            #expect(backendGroups.map { $0["costUSD"] as? Double } == [4.25, 1.5])

            let own = try await client.call(.get, "/v1/spend?groupBy=backend", key: api.alpha)
            #expect(try own.json()["totalUSD"] as? Double == 1.75)
            #expect(try own.json()["team"] as? String == "alpha")
            let theirs = try await client.call(.get, "/v1/spend?team=beta", key: api.alpha)
            #expect(theirs.status == 403)
            #expect(try theirs.errorCode() == "forbidden")

            let early = try await client.call(.get, "/v1/spend?until=\(WireFormat.formatTimestamp(now.addingTimeInterval(-20)))", key: api.admin)
            #expect(try early.json()["totalUSD"] as? Double == 1.75)

            // The dashboard's front page: spend per team over 24 h and 30 days, only the key's team for a team key.
            let adminPage = try await client.call(.get, "/", key: api.admin)
            #expect(adminPage.text.contains(#"<tr data-team="alpha"><td>alpha</td><td class="num">$1.75*</td><td class="num">$1.75*</td></tr>"#))
            #expect(adminPage.text.contains(#"<tr data-team="beta"><td>beta</td><td class="num">$4.00</td>"#), "\(adminPage.text)")
            let alphaPage = try await client.call(.get, "/", key: api.alpha)
            #expect(alphaPage.text.contains(#"data-team="alpha""#) && !alphaPage.text.contains(#"data-team="beta""#))

            let detail = try await client.call(.get, "/v1/jobs/\(alphaJob)", key: api.alpha)
            #expect(try detail.json()["costUSD"] as? Double == 1.75)
            let attempts = try #require(try detail.json()["attempts"] as? [[String: Any]])
            #expect(attempts.compactMap { $0["costUSD"] as? Double } == [0.25, 1.5])
            #expect(attempts.compactMap { $0["costIsEstimate"] as? Bool } == [true])
        }
    }

    @Test(
        "bad spend parameters are 400s naming the parameter",
        arguments: [
            ("groupBy=owner", "groupBy"), ("groupBy=label:", "groupBy"), ("since=yesterday", "since"),
            ("since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z", "since"), ("team=", "team"), ("groupBy=team&groupBy=kind", "groupBy"),
        ])
    func badParameters(query: String, field: String) async throws {
        let api = try InProcessAPI()
        try await api.test { client in
            let reply = try await client.call(.get, "/v1/spend?\(query)", key: api.admin)
            #expect(reply.status == 400, "\(query): \(reply.text)")
            #expect(try reply.errorCode() == "invalid_request")
            let fields = (try reply.json()["error"] as? [String: Any])?["fields"] as? [[String: Any]] ?? []
            #expect(fields.compactMap { $0["field"] as? String }.contains(field), "\(query): \(reply.text)")
            #expect(try await client.call(.get, "/v1/spend?\(query)", key: nil).status == 401)
        }
    }
}
