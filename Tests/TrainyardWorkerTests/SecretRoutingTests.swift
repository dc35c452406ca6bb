import Testing
import TrainyardBackends
import TrainyardCore

/// A backend the router may pick; routing never calls it.
private struct TypedBackend: ComputeBackend {
    let name: String
    func ensure(_ identity: BackendIdentity, spec: JobSpec) async throws(BackendError) -> BackendObservation { .absent }
    func observe(_ identity: BackendIdentity) async throws(BackendError) -> BackendObservation { .absent }
    func stop(_ identity: BackendIdentity, reason: String) async throws(BackendError) {}
    func existingAttempts(of jobID: JobID) async throws(BackendError) -> [Int] { [] }
}

/// The worker's check before anything is created: routing refuses a job whose secrets its
/// target's rules do not allow the job's team.
@Suite struct SecretRoutingTests {
    func spec(team: String, secret: String, kind: JobKind = .batch) -> JobSpec {
        JobSpec(name: "n", team: team, kind: kind, command: ["true"], secrets: [SecretReference(env: "TOKEN", secretName: secret)])
    }

    @Test("a foreign secret is an invalid request naming it; the team's own routes as before")
    func defaultPolicy() throws {
        let router = BackendRouter(single: BackendTarget(name: "laptop", backend: TypedBackend(name: "local"), concurrencyLimit: 1))
        #expect(try router.route(spec(team: "search", secret: "search-token")).get().name == "laptop")
        guard case .failure(let error) = router.route(spec(team: "ads", secret: "search-token")) else {
            Issue.record("team ads reached search's secret")
            return
        }
        #expect(error.kind == .invalidRequest && error.message.contains("\"search-token\"") && error.message.contains("\"laptop\""))
    }

    @Test("the routed target's rules decide")
    func perTarget() throws {
        let secrets = SecretPolicy(targetRules: ["sm": SecretRules(grants: [SecretGrant(teams: ["ads"], names: ["shared-token"])])])
        let router = try BackendRouter(
            targets: [
                BackendTarget(name: "laptop", backend: TypedBackend(name: "local"), concurrencyLimit: 1),
                BackendTarget(name: "sm", backend: TypedBackend(name: "sagemaker"), concurrencyLimit: 1),
            ],
            policy: RoutingPolicy(rules: [RoutingRule(kinds: [.training], target: "sm")], defaultTarget: "laptop"), secretPolicy: secrets)
        #expect(try router.route(spec(team: "ads", secret: "shared-token", kind: .training)).get().name == "sm")
        #expect((try? router.route(spec(team: "ads", secret: "shared-token", kind: .batch)).get()) == nil)
    }
}
