import Foundation
import Testing
import TrainyardBackends
import TrainyardCore
import TrainyardKubernetes

@testable import KubernetesBackend

@Suite("Kubernetes Job mapping")
struct KubernetesJobMapperTests {
    let identity = BackendIdentity(jobID: JobID("01j0000000000000000000000z")!, attempt: 2, team: "search")
    let configuration = KubernetesBackendConfiguration(
        namespace: "ml", nodeSelector: ["pool": "gpu"], tolerations: [KubernetesToleration(key: "gpu", operator: "Exists", effect: "NoSchedule")],
        ttlSecondsAfterFinished: 3600)

    func spec() -> JobSpec {
        JobSpec(
            name: "ranker", team: "search", kind: .training, image: "registry.example/ranker:1", command: ["python", "train.py"],
            args: ["--epochs", "3"], env: ["MODE": "full"],
            secrets: [SecretReference(env: "DB_PASSWORD", secretName: "db", key: "password"), SecretReference(env: "AWS", secretName: "aws-creds")],
            resources: Resources(cpu: 1.5, memoryMiB: 2048, gpu: 2), maxRuntimeSeconds: 900)
    }

    @Test("the Job carries the deterministic name, identity labels, backoffLimit 0, deadline, TTL and a disruption policy")
    func jobShape() throws {
        let job = try KubernetesJobMapper.job(for: identity, spec: spec(), configuration: configuration)
        #expect(job.metadata.name == identity.resourceName && job.metadata.namespace == "ml")
        let labels = try #require(job.metadata.labels)
        #expect(labels["trainyard.io/job-id"] == identity.jobID.rawValue && labels["trainyard.io/attempt"] == "2")
        #expect(labels["trainyard.io/team"] == "search" && labels["app.kubernetes.io/managed-by"] == "trainyard")
        #expect(job.spec?.template.metadata?.labels == labels, "pods carry the labels the watch selects on")
        #expect(job.spec?.backoffLimit == 0 && job.spec?.activeDeadlineSeconds == 900 && job.spec?.ttlSecondsAfterFinished == 3600)
        #expect(job.spec?.podFailurePolicy?.rules.first?.action == "FailJob")
        #expect(job.spec?.podFailurePolicy?.rules.first?.onPodConditions?.first?.type == "DisruptionTarget")
        let pod = try #require(job.spec?.template.spec)
        #expect(pod.restartPolicy == "Never" && pod.nodeSelector == ["pool": "gpu"] && pod.tolerations?.first?.key == "gpu")
    }

    @Test("container: image, argv, env with the attempt's identity, resources, GPUs")
    func container() throws {
        let container = try #require(
            try KubernetesJobMapper.job(for: identity, spec: spec(), configuration: configuration).spec?.template.spec.containers.first)
        #expect(container.name == "main" && container.image == "registry.example/ranker:1")
        #expect(container.command == ["python", "train.py"] && container.args == ["--epochs", "3"])
        let env = Dictionary(uniqueKeysWithValues: (container.env ?? []).map { ($0.name, $0) })
        #expect(env["MODE"]?.value == "full" && env["TRAINYARD_ATTEMPT"]?.value == "2" && env["TRAINYARD_JOB_ID"]?.value == identity.jobID.rawValue)
        #expect(container.resources?.requests == ["cpu": "1500m", "memory": "2048Mi", "nvidia.com/gpu": "2"])
        #expect(container.resources?.limits == container.resources?.requests)
    }

    @Test("secrets become references (secretKeyRef with a key, envFrom without), never values")
    func secrets() throws {
        let job = try KubernetesJobMapper.job(for: identity, spec: spec(), configuration: configuration)
        let container = try #require(job.spec?.template.spec.containers.first)
        let password = try #require(container.env?.first { $0.name == "DB_PASSWORD" })
        #expect(password.value == nil && password.valueFrom?.secretKeyRef?.name == "db" && password.valueFrom?.secretKeyRef?.key == "password")
        #expect(container.envFrom?.first?.secretRef?.name == "aws-creds" && container.envFrom?.first?.prefix == "AWS_")
        let json = String(decoding: try JSONEncoder().encode(job), as: UTF8.self)
        #expect(!json.contains("\"value\":\"password\""))
    }

    @Test("no image, or a name that is not a DNS label, is an invalid request")
    func invalid() {
        var noImage = spec()
        noImage.image = nil
        #expect(throws: BackendError.self) { try KubernetesJobMapper.job(for: identity, spec: noImage, configuration: configuration) }
        #expect(KubernetesJobMapper.isDNSLabel(identity.resourceName) && identity.resourceName.count <= 63)
        #expect(
            !KubernetesJobMapper.isDNSLabel("Ty-x") && !KubernetesJobMapper.isDNSLabel("-a")
                && !KubernetesJobMapper.isDNSLabel(String(repeating: "a", count: 64)))
        let longest = BackendIdentity(jobID: identity.jobID, attempt: 9_999_999, team: "t")
        #expect(KubernetesJobMapper.isDNSLabel(longest.resourceName))
    }
}
