import Foundation
import Testing
import TrainyardCore
import TrainyardQuota
import TrainyardStore

@testable import TrainyardAPI

@Suite("Dashboard: team quotas panel")
struct QuotaPanelTests {
    let policy = QuotaPolicy(
        defaults: TeamQuota(limit: QuotaLimit(maxAttempts: 8)),
        teams: ["alpha": TeamQuota(limit: QuotaLimit(maxAttempts: 4, maxGPUs: 8), weight: 2)])
    let usage = [
        TeamUsage(team: "alpha", running: 4, gpus: 3, cpus: 2.5, heldByQuota: 7),
        TeamUsage(team: "<beta>", running: 1, gpus: 0, cpus: 1),
    ]

    @Test("an admin sees every team with usage and every named team, against its quota or the defaults")
    func adminRows() throws {
        let panel = try #require(QuotaPanel(usage: usage, policy: policy, principal: Principal(name: "ops", team: nil)))
        #expect(panel.rows.map(\.usage.team) == ["<beta>", "alpha"])
        #expect(panel.rows.map { $0.quota?.limit.maxAttempts } == [8, 4])
        let html = panel.render()
        #expect(html.contains(#"<td class="num reason" data-resource="attempts">4 / 4</td>"#), "alpha is at its quota")
        #expect(html.contains(#"<td class="num" data-resource="gpus">3 / 8</td>"#))
        #expect(html.contains(#"<td class="num" data-resource="cpus">2.50</td>"#), "no CPU limit: usage alone")
        #expect(html.contains(#"<td class="num" data-resource="held">7</td>"#))
        #expect(html.contains(#"<td class="num" data-resource="attempts">1 / 8</td>"#))
        #expect(html.contains("&lt;beta&gt;") && !html.contains("<beta>"), "team names are escaped")
        #expect(!html.contains("--quotas"))
    }

    @Test("a team key sees its own team only, with its default quota even without running jobs")
    func teamRows() throws {
        let gamma = try #require(QuotaPanel(usage: [], policy: policy, principal: Principal(name: "ci", team: "gamma")))
        #expect(gamma.rows == [QuotaPanel.Row(usage: TeamUsage(team: "gamma"), quota: policy.defaults)])
        let alpha = try #require(
            QuotaPanel(usage: usage.filter { $0.team == "alpha" }, policy: policy, principal: Principal(name: "ci", team: "alpha")))
        #expect(alpha.rows.map(\.usage.team) == ["alpha"])
    }

    @Test("without limits the panel appears only when jobs are held, and then says where the limits come from")
    func withoutLimits() throws {
        let admin = Principal(name: "ops", team: nil)
        #expect(QuotaPanel(usage: [TeamUsage(team: "a", running: 3)], policy: nil, principal: admin) == nil)
        #expect(QuotaPanel(usage: [TeamUsage(team: "a", running: 3)], policy: .unlimited, principal: admin) == nil)
        let held = try #require(QuotaPanel(usage: [TeamUsage(team: "a", running: 3, heldByQuota: 2)], policy: nil, principal: admin))
        let html = held.render()
        #expect(html.contains(#"<td class="num" data-resource="attempts">3</td>"#))
        #expect(html.contains("--quotas"))
        #expect(QuotaPanel(usage: [TeamUsage(team: "a", heldByQuota: 2)], policy: nil, principal: Principal(name: "ci", team: "b")) == nil)
    }
}
