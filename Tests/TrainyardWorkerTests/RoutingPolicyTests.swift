import Foundation
import Testing
import TrainyardBackends
import TrainyardCore
import Yams

/// A backend that only has a type name: routing never calls it.
private struct NamedBackend: ComputeBackend {
    let name: String
    func ensure(_ identity: BackendIdentity, spec: JobSpec) async throws(BackendError) -> BackendObservation { .absent }
    func observe(_ identity: BackendIdentity) async throws(BackendError) -> BackendObservation { .absent }
    func stop(_ identity: BackendIdentity, reason: String) async throws(BackendError) {}
    func existingAttempts(of jobID: JobID) async throws(BackendError) -> [Int] { [] }
}

@Suite struct RoutingPolicyTests {
    /// The README's LyftLearn-style policy: training and processing on SageMaker, the rest on
    /// Kubernetes, the search team's GPU jobs in their own namespace, `local` only by name.
    static let policyYAML = """
        default: k8s
        allowExplicit: [local, kubernetes]
        rules:
          - {kinds: [training, processing], backend: sagemaker}
          - {teams: [search], labels: {gpu: "true"}, backend: k8s-search-gpu}
        """

    let router: BackendRouter

    init() throws {
        let policy = try YAMLDecoder().decode(RoutingPolicy.self, from: Self.policyYAML)
        router = try BackendRouter(
            targets: [
                BackendTarget(name: "k8s", backend: NamedBackend(name: "kubernetes"), concurrencyLimit: 50),
                BackendTarget(name: "k8s-search-gpu", backend: NamedBackend(name: "kubernetes"), concurrencyLimit: 4),
                BackendTarget(name: "sagemaker", backend: NamedBackend(name: "sagemaker"), concurrencyLimit: 20),
                BackendTarget(name: "laptop", backend: NamedBackend(name: "local"), concurrencyLimit: 2),
            ],
            policy: policy)
    }

    private func target(_ spec: JobSpec) -> String {
        switch router.route(spec) {
        case .success(let target): target.name
        case .failure(let error): "error: \(error.message)"
        }
    }

    private func spec(kind: JobKind = .batch, team: String = "ranking", backend: BackendChoice = .auto, labels: [String: String] = [:]) -> JobSpec {
        JobSpec(name: "j", team: team, kind: kind, command: ["true"], backend: backend, labels: labels)
    }

    @Test func autoFollowsTheRulesInOrder() {
        #expect(target(spec(kind: .training)) == "sagemaker")
        #expect(target(spec(kind: .processing, team: "search", labels: ["gpu": "true"])) == "sagemaker")
        #expect(target(spec(kind: .batch, team: "search", labels: ["gpu": "true"])) == "k8s-search-gpu")
        #expect(target(spec(kind: .batch, team: "search", labels: ["gpu": "false"])) == "k8s")
        #expect(target(spec(kind: .hpo, team: "ranking", labels: ["gpu": "true"])) == "k8s")
    }

    @Test func anAllowedExplicitBackendWinsAndStillHonoursRulesOfItsType() {
        #expect(target(spec(kind: .training, backend: .local)) == "laptop")
        #expect(target(spec(kind: .training, backend: .kubernetes)) == "k8s")
        #expect(target(spec(kind: .batch, team: "search", backend: .kubernetes, labels: ["gpu": "true"])) == "k8s-search-gpu")
    }

    @Test func anExplicitBackendThePolicyDoesNotAllowIsRefused() {
        #expect(
            target(spec(kind: .training, backend: .sagemaker))
                == "error: backend \"sagemaker\" may not be chosen explicitly on this fleet (allowed: kubernetes, local); use auto")
    }

    @Test func anUnconfiguredBackendTypeIsRefused() throws {
        let router = BackendRouter(single: BackendTarget(name: "local", backend: NamedBackend(name: "local"), concurrencyLimit: 1))
        guard case .failure(let error) = router.route(spec(backend: .kubernetes)) else {
            Issue.record("routed a kubernetes job to a local-only fleet")
            return
        }
        #expect(error.message == "backend \"kubernetes\" is not configured on this fleet (available: local)")
        #expect(error.kind == .invalidRequest)
    }

    @Test func aPolicyNamingAnUnknownTargetIsAConfigurationError() {
        #expect(throws: BackendError.self) {
            try BackendRouter(
                targets: [BackendTarget(name: "local", backend: NamedBackend(name: "local"), concurrencyLimit: 1)],
                policy: RoutingPolicy(rules: [RoutingRule(kinds: [.training], target: "sagemaker")], defaultTarget: "local"))
        }
    }

    /// ops/examples/worker-hybrid.yaml (shown in the README) routes as it says. Only its target
    /// names and types are read here; the executable's loader also reads each type's settings.
    @Test func theHybridExampleFileRoutesAsDocumented() throws {
        struct ExampleFile: Decodable {
            struct Entry: Decodable {
                var name: String
                var type: String
                var concurrency: Int?
            }
            var backends: [Entry]
            var routing: RoutingPolicy
        }
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ops/examples/worker-hybrid.yaml")
        let file = try YAMLDecoder().decode(ExampleFile.self, from: try String(contentsOf: url, encoding: .utf8))
        let router = try BackendRouter(
            targets: file.backends.map { BackendTarget(name: $0.name, backend: NamedBackend(name: $0.type), concurrencyLimit: $0.concurrency ?? 1) },
            policy: file.routing)
        func route(_ spec: JobSpec) -> String? { try? router.route(spec).get().name }
        #expect(route(spec(kind: .training)) == "sagemaker" && route(spec(kind: .processing)) == "sagemaker")
        #expect(route(spec(kind: .batch)) == "k8s" && route(spec(kind: .hpo)) == "k8s")
        #expect(route(spec(kind: .batch, team: "search", labels: ["gpu": "true"])) == "k8s-search-gpu")
        #expect(route(spec(kind: .training, backend: .local)) == "laptop")
        #expect(route(spec(kind: .batch, backend: .sagemaker)) == nil)
    }
}
