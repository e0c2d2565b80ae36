{{/* Names and labels shared by every template. */}}

{{- define "shop.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The Kubernetes name of one app's objects: "<fullname>-<app-id>". */}}
{{- define "shop.appName" -}}
{{- printf "%s-%s" (include "shop.fullname" .root) .app | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The Secret holding one app's DAPR_API_TOKEN ("dapr") or APP_API_TOKEN ("app"), key `token`:
"<secrets.apiTokenSecretPrefix>-<app-id>-<dapr|app>-api-token". */}}
{{- define "shop.tokenSecret" -}}
{{- printf "%s-%s-%s-api-token" .root.Values.secrets.apiTokenSecretPrefix .app .token -}}
{{- end -}}

{{- define "shop.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/part-of: {{ include "shop.fullname" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selects one app's Pods (never changes after install: Deployments' selectors are immutable). */}}
{{- define "shop.appSelector" -}}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/name: {{ .app }}
{{- end -}}

{{/* Selects every app Pod of this release. */}}
{{- define "shop.appsSelector" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: app
{{- end -}}

{{- define "shop.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/*
What each app uses, which decides the Dapr Components' scopes, the Secrets its ServiceAccount may
read, and the NetworkPolicies to the dev infrastructure. From the services' code: who publishes
or subscribes, who keeps state, who reads which secret.
*/}}
{{- define "shop.uses" -}}
pubsub: [customers, products, orders, order-view, notifications]
statestore: [auth]
instances: [gateway, auth, customers, products, orders, order-view, notifications]
secretstore: [gateway, auth, customers, products, orders, notifications]
mariadb: [auth, customers, products, orders, notifications]
mongodb: [order-view]
# Apps whose own code reaches Redis: the gateway (request budget), notifications (WebSocket
# leases); docs/decisions/0010-rate-limits-in-redis.md.
redis: [gateway, notifications]
secrets:
  gateway: [jwt-signing-key]
  notifications: [jwt-signing-key, notifications-db-password]
  auth: [jwt-signing-key, admin-email, admin-password, auth-db-password]
  customers: [customers-db-password]
  products: [products-db-password]
  orders: [orders-db-password]
  order-view: []
{{- end -}}

{{/* Apps reached from outside the cluster (a Service, the Ingress): the REST API and the WebSocket. */}}
{{- define "shop.publicApps" -}}
[gateway, notifications]
{{- end -}}

{{/* The subscribers, scaled on their queues' length, and those queues (Dapr's RabbitMQ component names a queue "<app-id>-<topic>"). */}}
{{- define "shop.subscriberQueues" -}}
notifications: [notifications-orders]
order-view: [order-view-orders, order-view-customers, order-view-products]
{{- end -}}

{{/* A component scoped to the apps that use it. */}}
{{- define "shop.scopes" -}}
scopes:
{{- range (index (include "shop.uses" . | fromYaml) .component) }}
  - {{ . }}
{{- end }}
{{- end -}}

{{/* A container security context that passes the restricted Pod Security Standard. */}}
{{- define "shop.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: {{ .readOnly }}
runAsNonRoot: true
capabilities:
  drop: [ALL]
{{- end -}}
