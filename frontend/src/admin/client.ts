// The typed gRPC-web clients, generated from proto/, on the edge's own
// origin. Every call carries the session's token; an UNAUTHENTICATED answer
// to anything but the sign-in ends the session.

import { Code, ConnectError, type Interceptor, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";

import { AuthService } from "../gen/astro/v1/auth_pb";
import { MemberService } from "../gen/astro/v1/member_pb";
import { ProspectService } from "../gen/astro/v1/prospect_pb";
import { ScoringService } from "../gen/astro/v1/scoring_pb";
import { InsightsService } from "../gen/astro/v1/insights_pb";
import { PrivacyService } from "../gen/astro/v1/privacy_pb";
import { ImportService } from "../gen/astro/v1/import_pb";
import { FormService } from "../gen/astro/v1/form_pb";
import { sessions } from "./session";
import { apiBase } from "../api/origin";

const bearer: Interceptor = (next) => async (request) => {
  const token = sessions.current().token;
  if (token !== null && request.method.name !== "Login") request.header.set("authorization", `Bearer ${token}`);
  try {
    return await next(request);
  } catch (error) {
    if (request.method.name !== "Login" && ConnectError.from(error).code === Code.Unauthenticated) sessions.expire();
    throw error;
  }
};

const transport = createGrpcWebTransport({ baseUrl: apiBase || window.location.origin, interceptors: [bearer] });

export const auth = createClient(AuthService, transport);
export const prospects = createClient(ProspectService, transport);
export const members = createClient(MemberService, transport);
export const scoring = createClient(ScoringService, transport);
export const insights = createClient(InsightsService, transport);
export const privacy = createClient(PrivacyService, transport);
export const imports = createClient(ImportService, transport);
export const forms = createClient(FormService, transport);
