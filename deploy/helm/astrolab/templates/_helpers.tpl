{{/* Names ------------------------------------------------------------- */}}
{{- define "astrolab.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "astrolab.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "astrolab.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The RayCluster's name; its head Service is NAME-head-svc (KubeRay). */}}
{{- define "astrolab.rayClusterName" -}}
{{- default (printf "%s-ray" (include "astrolab.fullname" .)) .Values.ray.nameOverride | trunc 40 | trimSuffix "-" }}
{{- end }}

{{- define "astrolab.pvcName" -}}
{{- default (printf "%s-data" (include "astrolab.fullname" .)) .Values.persistence.existingClaim }}
{{- end }}

{{- define "astrolab.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "astrolab.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Labels ------------------------------------------------------------ */}}
{{- define "astrolab.selectorLabels" -}}
app.kubernetes.io/name: {{ include "astrolab.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "astrolab.labels" -}}
helm.sh/chart: {{ include "astrolab.chart" . }}
{{ include "astrolab.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: astrolab
{{- end }}

{{/* Image ------------------------------------------------------------- */}}
{{- define "astrolab.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* The Ray dashboard the server and workers submit runs to ("" = none). */}}
{{- define "astrolab.rayAddress" -}}
{{- if .Values.ray.address }}
{{- .Values.ray.address }}
{{- else if .Values.ray.enabled }}
{{- printf "http://%s-head-svc.%s.svc:8265" (include "astrolab.rayClusterName" .) .Release.Namespace }}
{{- end }}
{{- end }}

{{/* Security contexts (restricted Pod Security Standard) ---------------- */}}
{{- define "astrolab.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.uid }}
runAsGroup: {{ .Values.securityContext.gid }}
fsGroup: {{ .Values.securityContext.gid }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "astrolab.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.uid }}
runAsGroup: {{ .Values.securityContext.gid }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Environment shared by every astrolab process: data home, settings,
     log format, and the secrets by reference. */}}
{{- define "astrolab.env" -}}
- name: ASTROLAB_HOME
  value: {{ .Values.persistence.mountPath | quote }}
- name: ASTROLAB_CONFIG
  value: /etc/astrolab/astrolab.toml
- name: ASTROLAB_LOG_FORMAT
  value: json
- name: HOME
  value: /tmp
- name: ASTROLAB_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "database.existingSecret: the name of a Secret holding the PostgreSQL URL" .Values.database.existingSecret }}
      key: {{ .Values.database.urlKey }}
{{- end }}

{{- define "astrolab.oidcEnv" -}}
{{- if .Values.oidc.enabled }}
- name: ASTROLAB_OIDC_ISSUER
  value: {{ required "oidc.issuer is required when oidc.enabled" .Values.oidc.issuer | quote }}
- name: ASTROLAB_OIDC_CLIENT_ID
  value: {{ required "oidc.clientId is required when oidc.enabled" .Values.oidc.clientId | quote }}
- name: ASTROLAB_OIDC_REDIRECT_URL
  value: {{ required "oidc.redirectUrl is required when oidc.enabled" .Values.oidc.redirectUrl | quote }}
- name: ASTROLAB_OIDC_CLIENT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ required "oidc.existingSecret: the Secret holding the OIDC client secret" .Values.oidc.existingSecret }}
      key: {{ .Values.oidc.clientSecretKey }}
{{- end }}
{{- end }}

{{- define "astrolab.rayEnv" -}}
{{- $addr := include "astrolab.rayAddress" . }}
{{- if $addr }}
- name: ASTROLAB_RAY_ADDRESS
  value: {{ $addr | quote }}
{{- end }}
{{- end }}

{{/* Volumes of every astrolab pod: the data home, settings, /tmp. */}}
{{- define "astrolab.volumes" -}}
- name: data
{{- if .Values.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ include "astrolab.pvcName" . }}
{{- else }}
  emptyDir: {}
{{- end }}
- name: config
  configMap:
    name: {{ include "astrolab.fullname" . }}-config
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end }}

{{- define "astrolab.volumeMounts" -}}
- name: data
  mountPath: {{ .Values.persistence.mountPath }}
- name: config
  mountPath: /etc/astrolab
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- end }}

{{- /*
A Ray pod: the astrolab image (python3, ray and /usr/local/bin/astrolab,
the same build as the server's), the data home at the same path as in the
server and workers, the database URL from its Secret (a job's environment
is shown on Ray's dashboard, so the URL does not travel with the job).
KubeRay fills in the command (ray start ...), the probes and /dev/shm.
Arguments: root (the chart's context), name, group (values), gpus.
*/ -}}
{{- define "astrolab.rayPodTemplate" -}}
{{- $root := .root }}
{{- $g := .group -}}
metadata:
  labels:
    {{- include "astrolab.labels" $root | nindent 4 }}
    app.kubernetes.io/component: ray
spec:
  serviceAccountName: {{ include "astrolab.serviceAccountName" $root }}
  automountServiceAccountToken: false
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $g.runtimeClassName }}
  runtimeClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- include "astrolab.podSecurityContext" $root | nindent 4 }}
  containers:
    - name: {{ .name }}
      image: {{ include "astrolab.image" $root }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      env:
        {{- include "astrolab.env" $root | nindent 8 }}
        - name: RAY_USAGE_STATS_ENABLED
          value: "0"
      {{- if .head }}
      ports:
        - {name: gcs-server, containerPort: 6379, protocol: TCP}
        - {name: dashboard, containerPort: 8265, protocol: TCP}
        - {name: client, containerPort: 10001, protocol: TCP}
      {{- end }}
      {{- $res := deepCopy $g.resources }}
      {{- if .gpus }}
      {{- $_ := set $res.requests "nvidia.com/gpu" .gpus }}
      {{- $_ := set $res.limits "nvidia.com/gpu" .gpus }}
      {{- end }}
      resources:
        {{- toYaml $res | nindent 8 }}
      securityContext:
        {{- include "astrolab.containerSecurityContext" $root | nindent 8 }}
      volumeMounts:
        {{- include "astrolab.volumeMounts" $root | nindent 8 }}
      lifecycle:
        preStop:
          exec:
            command: ["/bin/sh", "-c", "ray stop"]
  volumes:
    {{- include "astrolab.volumes" $root | nindent 4 }}
  {{- with $g.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $g.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/* rayStartParams: a map of strings (KubeRay refuses numbers). */}}
{{- define "astrolab.rayStartParams" -}}
{{- if . }}
{{- range $k, $v := . }}
{{ $k }}: {{ $v | toString | quote }}
{{- end }}
{{- else }}
{}
{{- end }}
{{- end }}
