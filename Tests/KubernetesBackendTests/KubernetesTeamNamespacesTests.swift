import Foundation
import Logging
import Testing
import TrainyardBackends
import TrainyardCore
import TrainyardKubernetes
import TrainyardTesting

@testable import KubernetesBackend

/// A Kubernetes target that maps teams to namespaces (issue #13, item 1), against the
/// kube-apiserver stand-in.
@Suite("Kubernetes target with a namespace per team", .serialized)
struct KubernetesTeamNamespacesTests {
    let logger = TestEnvironment.logger("kubernetes-team-namespaces")

    func spec(team: String) -> JobSpec {
        JobSpec(
            name: "per-team", team: team, image: "busybox:1.36", command: ["sh", "-c", "true"],
            env: ["KUBE_STANDIN_SCENARIO": "succeed", "KUBE_STANDIN_SECONDS": "1"], maxRuntimeSeconds: 60)
    }

    @Test("a mapped team's Job is created, watched and found in its namespace; other teams' in the target's own")
    func jobsLandInTheirTeamsNamespace() async throws {
        let standIn = try KubeAPIServerStandIn()
        defer { standIn.stop() }
        let connection = try KubernetesConnectionLoader.kubeconfig(path: try standIn.writeKubeconfig(namespace: "ml"))
        let client = try KubernetesClient(connection: connection, logger: logger)
        let backend = KubernetesTeamNamespaces(
            configuration: KubernetesBackendConfiguration(namespace: "ml", relistInterval: .seconds(300), watchTimeoutSeconds: 20),
            teamNamespaces: ["search": "search-jobs"], client: client, logger: logger)
        #expect(backend.namespace(ofTeam: "search") == "search-jobs" && backend.namespace(ofTeam: "ads") == "ml")
        let watching = Task { try await backend.run() }
        defer { watching.cancel() }

        let search = BackendIdentity(jobID: JobID.generate(), attempt: 1, team: "search")
        let ads = BackendIdentity(jobID: JobID.generate(), attempt: 1, team: "ads")
        _ = try await backend.ensure(search, spec: spec(team: "search"))
        _ = try await backend.ensure(ads, spec: spec(team: "ads"))
        for identity in [search, ads] {
            var finished: BackendOutcome?
            _ = try await eventually(timeout: .seconds(120), every: .milliseconds(200)) {
                if case .finished(let outcome) = try await backend.observe(identity) { finished = outcome }
                return finished != nil
            }
            #expect(finished?.state == .succeeded, "\(identity.team)")
        }
        let requests = try await standIn.stats().requests
        #expect(requests["POST /apis/batch/v1/namespaces/search-jobs/jobs"] == 1, "\(requests)")
        #expect(requests["POST /apis/batch/v1/namespaces/ml/jobs"] == 1, "\(requests)")
        #expect(try await client.job(search.resourceName, namespace: "search-jobs").metadata.name == search.resourceName)
        await #expect(throws: KubernetesError.self) { try await client.job(search.resourceName, namespace: "ml") }
        #expect(try await backend.existingAttempts(of: search.jobID) == [1])
        #expect(try await backend.existingAttempts(of: ads.jobID) == [1])
        watching.cancel()
        try await client.shutdown()
    }
}
