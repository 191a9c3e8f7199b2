export { type Credentials, EnrollError, type SchoolInfo, enroll, refreshRevocations, schoolInfo, trustFor } from './enroll.ts';
export { renewCertificate, renewIfDue } from './renew.ts';
export { ADMIN_HEADERS, ADMIN_REQUEST_CONTEXT, type AdminRequestFields, AdminRequestError, adminFetch, adminRequestMessage, bodyHashOf, signAdminRequest } from './admin-request.ts';
