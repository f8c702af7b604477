{{/* The ClusterIP Service of a service's pods (all its workloads): its API and /metrics. The
`dossier-tracking/job` label names Prometheus's job as deploy/prometheus/prometheus.yml does, so the
rules and dashboards read the same series. */}}
{{- define "dossier.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "dossier.name" (dict "root" .root "what" .component) }}
  labels:
    {{- include "dossier.labels" (dict "root" .root "component" .component) | nindent 4 }}
    dossier-tracking/job: dossier-{{ .component }}
spec:
  type: ClusterIP
  selector:
    {{- include "dossier.selector" (dict "root" .root "component" .component) | nindent 4 }}
  ports:
    - name: http
      port: {{ index (dict "intake" 8001 "processing" 8002 "metrics" 8003) .component }}
      targetPort: http
      protocol: TCP
{{- end -}}
