import Foundation
import Hummingbird
import TrainyardCore
import TrainyardStore

/// The query of `GET /v1/spend`: `since` and `until` (timestamps; default the last 30 days up to
/// now), `groupBy` (`team`, `backend`, `kind` or `label:KEY`; default `team`) and `team`.
/// Unknown parameters are ignored, like the list's; a bad value is a 400 naming it.
public struct SpendParameters: Sendable, Equatable {
    /// The window a report covers by default.
    public static let defaultWindow: TimeInterval = 30 * 86_400

    public var since: Date
    public var until: Date
    public var groupBy: SpendGrouping
    public var team: String?

    /// Reads the query's (name, value) pairs; `now` ends the default window.
    public init(_ pairs: [(name: String, value: String)], now: Date) throws(APIError) {
        var parameters = QueryParameters(pairs)
        func time(_ name: String) -> Date? {
            guard let text = parameters.value(name) else { return nil }
            guard let date = WireFormat.parseTimestamp(text) else {
                parameters.refuse(name, "must be a timestamp like 2026-12-01T00:00:00Z")
                return nil
            }
            return date
        }
        until = time("until") ?? now
        since = time("since") ?? until.addingTimeInterval(-Self.defaultWindow)
        if since >= until { parameters.refuse("since", "must be before until") }
        if let text = parameters.value("groupBy") {
            if let grouping = SpendGrouping(parameter: text) {
                groupBy = grouping
            } else {
                groupBy = .team
                parameters.refuse("groupBy", "must be team, backend, kind or label:KEY")
            }
        } else {
            groupBy = .team
        }
        team = parameters.value("team")
        if team?.isEmpty == true { parameters.refuse("team", "must not be empty") }
        try parameters.check("invalid spend request")
    }
}

/// `GET /v1/spend`: what the attempts that ended in a window cost, grouped. A team's key sees its
/// own team's spend only; an admin key every team's.
struct SpendRoutes: Sendable {
    let store: JobStore
    let authenticator: Authenticator

    func register(on router: Router<BasicRequestContext>) {
        router.get("v1/spend") { request, _ in try report(request) }
    }

    func report(_ request: Request) throws -> Response {
        let principal = try authenticator.require(request)
        var parameters = try SpendParameters(request.queryPairs, now: Date())
        if let team = principal.team {
            if let asked = parameters.team, asked != team {
                throw APIError(.forbidden, "forbidden", "this key reads only team \(team)'s spend")
            }
            parameters.team = team
        }
        let report = try store.spend(
            SpendQuery(since: parameters.since, until: parameters.until, groupBy: parameters.groupBy, team: parameters.team))
        return JSONResponse.make(SpendResponse(report))
    }
}

/// The body of `GET /v1/spend` (also `trainyard spend --json`).
public struct SpendResponse: Encodable {
    struct Group: Encodable {
        /// The team, backend, kind or label value; null for jobs without the label.
        var key: String?
        var costUSD: Double
        var attempts: Int
        var jobs: Int
        var includesEstimates: Bool

        enum CodingKeys: String, CodingKey { case key, costUSD, attempts, jobs, includesEstimates }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(key, forKey: .key)
            try container.encode(costUSD, forKey: .costUSD)
            try container.encode(attempts, forKey: .attempts)
            try container.encode(jobs, forKey: .jobs)
            try container.encode(includesEstimates, forKey: .includesEstimates)
        }
    }

    var since: Date
    var until: Date
    var groupBy: String
    var team: String?
    var totalUSD: Double
    var includesEstimates: Bool
    var groups: [Group]

    /// The report's JSON, as the API sends it.
    public static func encode(_ report: SpendReport) throws -> Data {
        try WireFormat.encoder().encode(SpendResponse(report))
    }

    init(_ report: SpendReport) {
        since = report.query.since
        until = report.query.until
        groupBy = report.query.groupBy.parameter
        team = report.query.team
        totalUSD = report.totalUSD
        includesEstimates = report.groups.contains(where: \.includesEstimates)
        groups = report.groups.map {
            Group(key: $0.key, costUSD: $0.costUSD, attempts: $0.attempts, jobs: $0.jobs, includesEstimates: $0.includesEstimates)
        }
    }
}
