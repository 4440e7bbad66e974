"""Who may call what: every root field of the live schema, for four callers.

``EXPECTED`` is the one table of outcomes: a field added to the schema without a row
here fails the test. ``CALLS`` says how each field is called (its document and,
per caller, its variables); targets a call destroys are made fresh for each caller.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any, NamedTuple

import httpx
from graphql import GraphQLObjectType
from sqlalchemy import func, select

from ezhr_graphql.api.graphql.schema import build_schema
from ezhr_graphql.container import Container
from ezhr_graphql.db import utcnow
from ezhr_graphql.models import AuditAction, AuditEvent, ChatMessage, Visibility
from ezhr_graphql.models.chat import MessageStatus
from ezhr_graphql.repositories.sign_in_code import SignInCodeRepository
from ezhr_graphql.services.attributes import Attributes
from ezhr_graphql.services.ingestion import LocalIngestionQueue
from ezhr_graphql.services.replies.updates import TitleChanged
from tests.conftest import GraphQLClient, PeopleFactory, Person
from tests.factories import make_agent, make_sessions
from tests.knowledge import make_collection, upload, wait_indexed
from tests.wsclient import connect


class Outcome(StrEnum):
    ALLOWED = "ALLOWED"  # data, or the result union's success member
    UNAUTHENTICATED = "UNAUTHENTICATED"  # top-level error
    FORBIDDEN = "FORBIDDEN"  # top-level error
    NOT_FOUND = "NOT_FOUND"  # NotFound member (subscriptions: top-level code / ReplyFailed)
    PERMISSION_DENIED = "PERMISSION_DENIED"  # PermissionDenied member


class Caller(StrEnum):
    ANONYMOUS = "anonymous"
    OWNER = "owner"  # the member who owns the session, folder, messages and feedback
    OTHER = "other"  # another member
    ADMIN = "admin"  # an administrator (owns the private agent, not the member's data)


class Expect(NamedTuple):
    anonymous: Outcome
    owner: Outcome
    other: Outcome
    admin: Outcome


A, U, F, N = Outcome.ALLOWED, Outcome.UNAUTHENTICATED, Outcome.FORBIDDEN, Outcome.NOT_FOUND

SIGNED_IN = Expect(U, A, A, A)  # any signed-in user, each on their own data
ADMIN_ONLY = Expect(U, F, F, A)
OWNER_ONLY = Expect(U, A, N, N)  # the owner's data: everyone else gets NotFound
ADMIN_SEES = Expect(U, N, N, A)  # the admin's private agent
EVERYONE = Expect(A, A, A, A)
# A document whose audience admits the owner (by a group) but not the other member.
IN_AUDIENCE = Expect(U, A, N, A)

# fmt: off
EXPECTED: dict[str, Expect] = {
    # Query
    "viewer": EVERYONE,  # null when anonymous
    "signInOptions": EVERYONE,
    "users": ADMIN_ONLY,
    "embeddingModels": SIGNED_IN,
    "embeddingModel": SIGNED_IN,
    "llmModels": SIGNED_IN,
    "llmModel": SIGNED_IN,
    "agents": SIGNED_IN,
    "agent": ADMIN_SEES,
    "folders": SIGNED_IN,
    "chatSessions": SIGNED_IN,
    "chatSession": OWNER_ONLY,
    "chatMessages": OWNER_ONLY,
    "collections": ADMIN_ONLY,
    "collection": ADMIN_ONLY,
    "documents": IN_AUDIENCE,
    "document": IN_AUDIENCE,
    "auditLog": ADMIN_ONLY,
    "insights": ADMIN_ONLY,
    "approvedAnswers": ADMIN_ONLY,
    # Mutation
    "exportMyData": SIGNED_IN,  # each caller their own data (HIDDEN checks the rest)
    "eraseMyData": SIGNED_IN,  # each caller erases themself (a stand-in, see stand_in)
    "eraseUser": ADMIN_ONLY,
    "register": EVERYONE,
    "login": EVERYONE,
    "redeemSignInCode": EVERYONE,  # whoever holds a code (each caller their own)
    "setUserRole": ADMIN_ONLY,
    "setUserAttributes": ADMIN_ONLY,
    "deleteUser": ADMIN_ONLY,
    "deactivateUser": ADMIN_ONLY,
    "reactivateUser": ADMIN_ONLY,
    "createEmbeddingModel": ADMIN_ONLY,
    "updateEmbeddingModel": ADMIN_ONLY,
    "deleteEmbeddingModel": ADMIN_ONLY,
    "createLlmModel": ADMIN_ONLY,
    "updateLlmModel": ADMIN_ONLY,
    "deleteLlmModel": ADMIN_ONLY,
    "createAgent": ADMIN_ONLY,
    "updateAgent": ADMIN_ONLY,
    "setAgentStarterMessages": ADMIN_ONLY,
    "deleteAgent": ADMIN_ONLY,
    "createFolder": SIGNED_IN,
    "renameFolder": OWNER_ONLY,
    "deleteFolder": OWNER_ONLY,
    "createChatSession": SIGNED_IN,
    "renameChatSession": OWNER_ONLY,
    "pinChatSession": OWNER_ONLY,
    "moveChatSession": OWNER_ONLY,
    "deleteChatSession": OWNER_ONLY,
    "sendMessage": OWNER_ONLY,
    "regenerateMessage": OWNER_ONLY,
    "stopGeneration": OWNER_ONLY,
    "switchBranch": OWNER_ONLY,
    "rateMessage": OWNER_ONLY,
    "createCollection": ADMIN_ONLY,
    "updateCollection": ADMIN_ONLY,
    "deleteCollection": ADMIN_ONLY,
    "uploadDocument": ADMIN_ONLY,
    "updateDocument": ADMIN_ONLY,
    "reindexDocument": ADMIN_ONLY,
    "reindexCollection": ADMIN_ONLY,
    "deleteDocument": ADMIN_ONLY,
    "setAgentCollections": ADMIN_ONLY,
    "createApprovedAnswer": ADMIN_ONLY,
    "updateApprovedAnswer": ADMIN_ONLY,
    "retireApprovedAnswer": ADMIN_ONLY,
    # Subscription (over websockets)
    "messageStream": OWNER_ONLY,
    "chat": OWNER_ONLY,  # refused with one ReplyFailed(code NOT_FOUND)
    "sessionUpdates": SIGNED_IN,  # each on their own channel
    "ingestionProgress": IN_AUDIENCE,
}
# fmt: on

# What the audit log records for each administrator's change, made by the admin.
AUDITED: dict[str, AuditAction] = {
    "setUserRole": AuditAction.USER_ROLE_CHANGED,
    "setUserAttributes": AuditAction.USER_ATTRIBUTES_CHANGED,
    "deleteUser": AuditAction.USER_DELETED,
    "deactivateUser": AuditAction.USER_DEACTIVATED,
    "reactivateUser": AuditAction.USER_REACTIVATED,
    "createEmbeddingModel": AuditAction.MODEL_CREATED,
    "updateEmbeddingModel": AuditAction.MODEL_CHANGED,
    "deleteEmbeddingModel": AuditAction.MODEL_DELETED,
    "createLlmModel": AuditAction.MODEL_CREATED,
    "updateLlmModel": AuditAction.MODEL_CHANGED,
    "deleteLlmModel": AuditAction.MODEL_DELETED,
    "createAgent": AuditAction.AGENT_CREATED,
    "updateAgent": AuditAction.AGENT_CHANGED,
    "setAgentStarterMessages": AuditAction.AGENT_CHANGED,
    "deleteAgent": AuditAction.AGENT_DELETED,
    "createCollection": AuditAction.COLLECTION_CREATED,
    "updateCollection": AuditAction.COLLECTION_CHANGED,
    "deleteCollection": AuditAction.COLLECTION_DELETED,
    "uploadDocument": AuditAction.DOCUMENT_UPLOADED,
    "updateDocument": AuditAction.DOCUMENT_CHANGED,
    "reindexDocument": AuditAction.DOCUMENT_CHANGED,
    "reindexCollection": AuditAction.COLLECTION_CHANGED,
    "deleteDocument": AuditAction.DOCUMENT_DELETED,
    "setAgentCollections": AuditAction.AGENT_CHANGED,
    "createApprovedAnswer": AuditAction.APPROVED_ANSWER_CREATED,
    "updateApprovedAnswer": AuditAction.APPROVED_ANSWER_CHANGED,
    "retireApprovedAnswer": AuditAction.APPROVED_ANSWER_RETIRED,
    "eraseUser": AuditAction.USER_ERASED,
}

# Marks in names and texts no other caller may ever read back.
OWNER_MARK = "owner-secret"
PRIVATE_MARK = "private-agent"
# The owner's group: the owner's own attributes, and the document audience it is in.
GROUP_MARK = "owner-group"
# Another group of the document's audience: only administrators see audiences.
AUDIENCE_MARK = "audience-secret"
HIDDEN: dict[Caller, tuple[str, ...]] = {
    Caller.ANONYMOUS: (OWNER_MARK, PRIVATE_MARK, GROUP_MARK, AUDIENCE_MARK),
    Caller.OWNER: (PRIVATE_MARK, AUDIENCE_MARK),
    Caller.OTHER: (OWNER_MARK, PRIVATE_MARK, GROUP_MARK, AUDIENCE_MARK),
    Caller.ADMIN: (OWNER_MARK,),
}
# Owner last: stopping the slow reply must come after the others were refused.
ORDER = (Caller.ANONYMOUS, Caller.OTHER, Caller.ADMIN, Caller.OWNER)
PASSWORD = "correct horse battery"


def root_fields() -> dict[str, list[str]]:
    schema = build_schema()._schema
    roots: dict[str, GraphQLObjectType | None] = {
        "Query": schema.query_type,
        "Mutation": schema.mutation_type,
        "Subscription": schema.subscription_type,
    }
    return {name: list(root.fields) if root else [] for name, root in roots.items()}


def check_coverage() -> None:
    fields = [name for names in root_fields().values() for name in names]
    missing = [name for name in fields if name not in EXPECTED]
    assert not missing, f"Root fields with no row in EXPECTED (add who may call them): {missing}"
    unknown = sorted(set(EXPECTED) - set(fields))
    assert not unknown, f"EXPECTED names fields the schema no longer has: {unknown}"
    no_call = [name for name in fields if name not in CALLS]
    assert not no_call, f"Root fields with no entry in CALLS (say how to call them): {no_call}"


# --- the world every call runs against -------------------------------------------


@dataclass
class World:
    gql: GraphQLClient
    http: httpx.AsyncClient
    container: Container
    people: PeopleFactory
    live_url: str
    callers: dict[Caller, Person | None]
    ids: dict[str, str] = field(default_factory=dict)

    def person(self, caller: Caller) -> Person:
        person = self.callers[caller]
        assert person is not None
        return person

    def token(self, caller: Caller) -> str | None:
        person = self.callers[caller]
        return person.token if person else None

    async def as_admin(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        return await self.gql.data(query, variables, self.token(Caller.ADMIN))

    async def as_owner(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        return await self.gql.data(query, variables, self.token(Caller.OWNER))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def owner_folder(world: World, name: str) -> str:
    made = await world.as_owner(
        "mutation ($n: String!) { createFolder(name: $n) { ... on Folder { id } } }", {"n": name}
    )
    folder_id: str = made["createFolder"]["id"]
    return folder_id


async def wait_replies(world: World, *, but: str | None = None) -> None:
    """Until no reply is being generated (except ``but``, the slow one)."""
    for _ in range(500):
        async with world.container.db.read() as session:
            query = select(func.count()).where(
                ChatMessage.status.in_([MessageStatus.PENDING, MessageStatus.STREAMING])
            )
            if but is not None:
                query = query.where(ChatMessage.id != uuid.UUID(but))
            if not await session.scalar(query):
                return
        await asyncio.sleep(0.02)
    raise AssertionError("replies still being generated after 10 s")


async def send(world: World, session_id: str, content: str) -> dict[str, Any]:
    sent = await world.as_owner(
        """mutation ($input: SendMessageInput!) {
          sendMessage(input: $input) {
            __typename ... on SentMessage { assistantMessage { id } }
            ... on UserError { message }
          }
        }""",
        {"input": {"sessionId": session_id, "content": content, "clientMessageId": unique("c")}},
    )
    assert sent["sendMessage"]["__typename"] == "SentMessage", sent
    result: dict[str, Any] = sent["sendMessage"]
    return result


async def small_document(world: World, text: str) -> str:
    """A small text document in the world's collection, indexed."""
    admin = world.token(Caller.ADMIN)
    assert admin is not None
    body = f"# Leave\n\n{text}\n\nEmployees get 25 days of annual leave a year.\n".encode()
    sent = await upload(world.http, admin, world.ids["collection"], f"{unique('d')}.md", body)
    done = await wait_indexed(world.gql, admin, sent["document"]["id"])
    assert done["status"] == "READY", done
    document_id: str = done["id"]
    return document_id


async def restrict_to_owner(world: World) -> None:
    """The world's collection and document are for the owner's group only, and a public
    agent answers from them: the owner may read the document, the other member may not."""
    async with world.container.db.transaction() as session:
        users = world.container.services(session).users
        await users.set_attributes(world.person(Caller.OWNER).id, Attributes(groups=(GROUP_MARK,)))
        await users.set_attributes(world.person(Caller.OTHER).id, Attributes(groups=("other",)))
    library = await make_agent(world.container, world.person(Caller.ADMIN), name=unique("library"))
    changed = await world.as_admin(
        """mutation ($a: ID!, $c: ID!, $d: ID!, $mine: AudienceInput!, $doc: AudienceInput!) {
          setAgentCollections(agentId: $a, collectionIds: [$c]) { __typename }
          updateCollection(id: $c, input: {audience: $mine}) { __typename }
          updateDocument(id: $d, input: {audience: $doc}) { __typename }
        }""",
        {
            "a": str(library.id),
            "c": world.ids["collection"],
            "d": world.ids["document"],
            "mine": {"groups": [GROUP_MARK]},
            "doc": {"groups": [GROUP_MARK, AUDIENCE_MARK]},
        },
    )
    assert {v["__typename"] for v in changed.values()} == {"Agent", "Collection", "Document"}


async def build_world(world: World) -> None:
    ids = world.ids
    admin = world.person(Caller.ADMIN)
    agent = await make_agent(world.container, admin, llm="scripted?tokens=5")
    ids["agent"] = str(agent.id)
    ids["llm"] = str(agent.llm_model_id)
    ids["embedding"] = str(agent.embedding_model_id)
    private = await make_agent(
        world.container, admin, name=unique(PRIVATE_MARK), visibility=Visibility.PRIVATE
    )
    ids["private_agent"] = str(private.id)
    ids["spare_user"] = str((await world.people.member()).id)

    knowledge = await make_collection(world.gql, admin.token, unique("Handbook"))
    ids["collection"], ids["minilm"] = knowledge["collection"], knowledge["model"]
    ids["document"] = await small_document(world, "The handbook.")

    approved = await world.as_admin(
        'mutation { createApprovedAnswer(input: {questions: ["Where is the gym?"], '
        'answer: "Floor 2."}) { ... on ApprovedAnswer { id } } }',
        {},
    )
    ids["approved"] = approved["createApprovedAnswer"]["id"]

    await restrict_to_owner(world)

    ids["folder"] = await owner_folder(world, f"{OWNER_MARK} folder")
    made = await world.as_owner(
        """mutation ($input: CreateChatSessionInput!) {
          createChatSession(input: $input) { ... on ChatSession { id } }
        }""",
        {"input": {"agentId": ids["agent"], "title": f"{OWNER_MARK} session"}},
    )
    ids["session"] = made["createChatSession"]["id"]
    sent = await send(world, ids["session"], f"{OWNER_MARK} question")
    ids["reply"] = sent["assistantMessage"]["id"]
    await wait_replies(world)
    rated = await world.as_owner(
        """mutation ($id: ID!, $c: String) {
          rateMessage(messageId: $id, rating: UP, comment: $c) { __typename }
        }""",
        {"id": ids["reply"], "c": f"{OWNER_MARK} comment"},
    )
    assert rated["rateMessage"]["__typename"] == "Feedback", rated

    # A reply that stays STREAMING until the owner stops it (stopGeneration).
    slow = await make_agent(world.container, admin, llm="scripted?tokens=5000&delay_ms=20")
    (slow_session,) = await make_sessions(world.container, world.person(Caller.OWNER), slow.id, 1)
    ids["slow_reply"] = (await send(world, str(slow_session.id), "Take your time"))[
        "assistantMessage"
    ]["id"]


# --- how each field is called ----------------------------------------------------

Variables = Callable[[World, Caller], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Call:
    document: str
    variables: Variables | None = None
    upload: bool = False  # a multipart request with the file at variables.file
    poke: bool = False  # a subscription that only speaks when something happens
    stand_in: bool = False  # made by a new person in the caller's place (see stand_in)


def call(document: str, variables: Variables | None = None, **options: bool) -> Call:
    return Call(document, variables, **options)


def ids(**names: str) -> Variables:
    """Variables that are IDs of the world: ``ids(id="session")``."""

    async def make(world: World, _: Caller) -> dict[str, Any]:
        return {variable: world.ids[name] for variable, name in names.items()}

    return make


def fresh(make: Callable[[World, Caller], Awaitable[Any]], variable: str = "id") -> Variables:
    """A new target for each caller (for calls that destroy it)."""

    async def variables(world: World, caller: Caller) -> dict[str, Any]:
        return {variable: await make(world, caller)}

    return variables


def plus(base: Variables, **extra: Any) -> Variables:
    async def make(world: World, caller: Caller) -> dict[str, Any]:
        made = await base(world, caller)
        return {**made, **{k: v() if callable(v) else v for k, v in extra.items()}}

    return make


ERR = "... on UserError { message }"


def union(expression: str, success: str = "") -> str:
    """A document selecting a result union: its type name, what marks a leak, errors."""
    return f"{{ {expression} {{ __typename {success} {ERR} }} }}"


async def stand_in(world: World, caller: Caller) -> tuple[str | None, dict[str, Any]]:
    """A new person of the caller's role, for a call that erases its caller: the
    world's callers stay. Variables confirm with that person's email."""
    if world.callers[caller] is None:
        return None, {"confirm": "nobody@example.com"}
    person = await (world.people.admin() if caller is Caller.ADMIN else world.people.member())
    return person.token, {"confirm": person.email}


async def new_member(world: World, _: Caller) -> str:
    return str((await world.people.member()).id)


async def new_deactivated_member(world: World, caller: Caller) -> str:
    member = await new_member(world, caller)
    done = await world.as_admin(
        "mutation ($id: ID!) { deactivateUser(userId: $id) { __typename } }", {"id": member}
    )
    assert done["deactivateUser"]["__typename"] == "User", done
    return member


async def new_sign_in_code(world: World, _: Caller) -> str:
    """A one-time code single sign-on would have issued for the owner."""
    code = unique("sign-in-code")
    async with world.container.db.transaction() as session:
        SignInCodeRepository.from_session(session).issue(
            world.person(Caller.OWNER).id, code, utcnow() + timedelta(minutes=1)
        )
    return code


async def new_embedding_model(world: World, _: Caller) -> str:
    made = await world.as_admin(
        """mutation ($input: CreateEmbeddingModelInput!) {
          createEmbeddingModel(input: $input) { ... on EmbeddingModel { id } }
        }""",
        {"input": {"name": unique("e"), "provider": "local", "modelName": "m", "dimensions": 8}},
    )
    model_id: str = made["createEmbeddingModel"]["id"]
    return model_id


async def new_llm(world: World, _: Caller) -> str:
    made = await world.as_admin(
        """mutation ($input: CreateLlmModelInput!) {
          createLlmModel(input: $input) { ... on LlmModel { id } }
        }""",
        {"input": {"name": unique("l"), "provider": "scripted", "modelName": "scripted"}},
    )
    model_id: str = made["createLlmModel"]["id"]
    return model_id


async def new_agent(world: World, _: Caller) -> str:
    return str((await make_agent(world.container, world.person(Caller.ADMIN))).id)


async def new_folder(world: World, _: Caller) -> str:
    return await owner_folder(world, f"{OWNER_MARK} {unique('f')}")


async def new_session(world: World, _: Caller) -> str:
    owner = world.person(Caller.OWNER)
    (made,) = await make_sessions(world.container, owner, uuid.UUID(world.ids["agent"]), 1)
    return str(made.id)


async def new_collection(world: World, _: Caller) -> str:
    made = await world.as_admin(
        """mutation ($input: CreateCollectionInput!) {
          createCollection(input: $input) { ... on Collection { id } }
        }""",
        {"input": {"name": unique("c"), "embeddingModelId": world.ids["minilm"]}},
    )
    collection_id: str = made["createCollection"]["id"]
    return collection_id


async def new_document(world: World, _: Caller) -> str:
    return await small_document(world, unique("To delete"))


async def new_registration(_: World, __: Caller) -> dict[str, Any]:
    return {"input": {"email": f"{unique('new')}@example.com", "password": PASSWORD}}


async def owner_login(world: World, _: Caller) -> dict[str, Any]:
    return {"email": world.person(Caller.OWNER).email, "password": PASSWORD}


async def document_file(world: World, _: Caller) -> dict[str, Any]:
    return {"c": world.ids["collection"], "file": None, "text": unique("Upload")}


async def chat_input(world: World, _: Caller) -> dict[str, Any]:
    return {
        "input": {
            "sessionId": world.ids["session"],
            "content": "And sick leave?",
            "clientMessageId": unique("c"),
        }
    }


async def create_agent_input(world: World, _: Caller) -> dict[str, Any]:
    return {
        "input": {
            "name": unique("agent"),
            "llmModelId": world.ids["llm"],
            "embeddingModelId": world.ids["embedding"],
        }
    }


async def nothing(_: World, __: Caller) -> dict[str, Any]:
    return {}


def named(prefix: str) -> Callable[[], str]:
    return lambda: unique(prefix)


REPLY = "... on ReplyFailed { code reason }"

CALLS: dict[str, Call] = {
    # Query
    "viewer": call(
        "{ viewer { __typename active deactivatedAt singleSignOn attributes { groups } } }"
    ),
    "signInOptions": call("{ signInOptions { localAccounts singleSignOnUrl } }"),
    "auditLog": call(
        union("auditLog", "... on AuditEventConnection { edges { node { id action } } }")
    ),
    "insights": call(
        union(
            "insights",
            "... on InsightGroupConnection { edges { node { question examples comments } } }",
        )
    ),
    "approvedAnswers": call(
        union(
            "approvedAnswers",
            "... on ApprovedAnswerConnection { edges { node { id questions answer } } }",
        )
    ),
    "createApprovedAnswer": call(
        "mutation" + union('createApprovedAnswer(input: {questions: ["Q?"], answer: "A."})')
    ),
    "updateApprovedAnswer": call(
        "mutation ($id: ID!)"
        + union('updateApprovedAnswer(id: $id, input: {questions: ["Q?"], answer: "B."})'),
        ids(id="approved"),
    ),
    "retireApprovedAnswer": call(
        "mutation ($id: ID!)" + union("retireApprovedAnswer(id: $id)"), ids(id="approved")
    ),
    "users": call(
        union(
            "users",
            "... on UserConnection { edges { node { id active deactivatedAt singleSignOn "
            "attributes { country } } } }",
        )
    ),
    "embeddingModels": call(union("embeddingModels")),
    "embeddingModel": call(
        "query ($id: ID!)" + union("embeddingModel(id: $id)"), ids(id="embedding")
    ),
    "llmModels": call(union("llmModels")),
    "llmModel": call("query ($id: ID!)" + union("llmModel(id: $id)"), ids(id="llm")),
    "agents": call(union("agents", "... on AgentConnection { edges { node { name } } }")),
    "agent": call(
        "query ($id: ID!)" + union("agent(id: $id)", "... on Agent { name }"),
        ids(id="private_agent"),
    ),
    "folders": call(union("folders", "... on FolderConnection { edges { node { name } } }")),
    "chatSessions": call(
        union("chatSessions", "... on ChatSessionConnection { edges { node { title } } }")
    ),
    "chatSession": call(
        "query ($id: ID!)" + union("chatSession(id: $id)", "... on ChatSession { title }"),
        ids(id="session"),
    ),
    "chatMessages": call(
        "query ($id: ID!)"
        + union(
            "chatMessages(sessionId: $id)",
            "... on ChatMessageConnection { edges { node { content } } }",
        ),
        ids(id="session"),
    ),
    "collections": call(union("collections")),
    "collection": call(
        "query ($id: ID!)"
        + union("collection(id: $id)", "... on Collection { audience { groups } }"),
        ids(id="collection"),
    ),
    "documents": call(
        "query ($id: ID!)"
        + union(
            "documents(collectionId: $id)",
            "... on DocumentConnection { edges { node { title audience { groups } } } }",
        ),
        ids(id="collection"),
    ),
    "document": call(
        "query ($id: ID!)" + union("document(id: $id)", "... on Document { audience { groups } }"),
        ids(id="document"),
    ),
    # Mutation
    "exportMyData": call("mutation " + union("exportMyData", "... on DataExport { json }")),
    "eraseMyData": call(
        "mutation ($confirm: String!)"
        + union("eraseMyData(confirm: $confirm)", "... on ErasedUser { userId }"),
        stand_in=True,
    ),
    "eraseUser": call(
        "mutation ($id: ID!)" + union("eraseUser(userId: $id)", "... on ErasedUser { userId }"),
        fresh(new_member),
    ),
    "register": call(
        "mutation ($input: RegisterInput!)" + union("register(input: $input)"), new_registration
    ),
    "login": call(
        "mutation ($email: String!, $password: String!) "
        "{ login(email: $email, password: $password) { __typename } }",
        owner_login,
    ),
    "setUserRole": call(
        "mutation ($id: ID!)" + union("setUserRole(userId: $id, role: MEMBER)"),
        ids(id="spare_user"),
    ),
    "setUserAttributes": call(
        "mutation ($id: ID!)"
        + union('setUserAttributes(userId: $id, input: {country: "VN", groups: ["g"]})'),
        ids(id="spare_user"),
    ),
    "deleteUser": call("mutation ($id: ID!)" + union("deleteUser(userId: $id)"), fresh(new_member)),
    "redeemSignInCode": call(
        "mutation ($code: String!)"
        + union("redeemSignInCode(code: $code)", "... on AuthPayload { user { id } }"),
        fresh(new_sign_in_code, "code"),
    ),
    "deactivateUser": call(
        "mutation ($id: ID!)" + union("deactivateUser(userId: $id)"), fresh(new_member)
    ),
    "reactivateUser": call(
        "mutation ($id: ID!)" + union("reactivateUser(userId: $id)"),
        fresh(new_deactivated_member),
    ),
    "createEmbeddingModel": call(
        "mutation ($n: String!)"
        + union(
            "createEmbeddingModel(input: "
            '{name: $n, provider: "local", modelName: "m", dimensions: 8})'
        ),
        plus(nothing, n=named("e")),
    ),
    "updateEmbeddingModel": call(
        "mutation ($id: ID!)" + union('updateEmbeddingModel(id: $id, input: {description: "d"})'),
        ids(id="embedding"),
    ),
    "deleteEmbeddingModel": call(
        "mutation ($id: ID!)" + union("deleteEmbeddingModel(id: $id)"), fresh(new_embedding_model)
    ),
    "createLlmModel": call(
        "mutation ($n: String!)"
        + union('createLlmModel(input: {name: $n, provider: "scripted", modelName: "scripted"})'),
        plus(nothing, n=named("l")),
    ),
    "updateLlmModel": call(
        "mutation ($id: ID!)" + union('updateLlmModel(id: $id, input: {description: "d"})'),
        ids(id="llm"),
    ),
    "deleteLlmModel": call(
        "mutation ($id: ID!)" + union("deleteLlmModel(id: $id)"), fresh(new_llm)
    ),
    "createAgent": call(
        "mutation ($input: CreateAgentInput!)" + union("createAgent(input: $input)"),
        create_agent_input,
    ),
    "updateAgent": call(
        "mutation ($id: ID!)" + union('updateAgent(id: $id, input: {description: "d"})'),
        ids(id="private_agent"),
    ),
    "setAgentStarterMessages": call(
        "mutation ($id: ID!)" + union('setAgentStarterMessages(id: $id, messages: ["Hi?"])'),
        ids(id="private_agent"),
    ),
    "deleteAgent": call("mutation ($id: ID!)" + union("deleteAgent(id: $id)"), fresh(new_agent)),
    "createFolder": call(
        "mutation ($n: String!)" + union("createFolder(name: $n)"), plus(nothing, n=named("f"))
    ),
    "renameFolder": call(
        "mutation ($id: ID!, $n: String!)" + union("renameFolder(id: $id, name: $n)"),
        plus(ids(id="folder"), n=named("renamed")),
    ),
    "deleteFolder": call("mutation ($id: ID!)" + union("deleteFolder(id: $id)"), fresh(new_folder)),
    "createChatSession": call(
        "mutation ($a: ID!)" + union("createChatSession(input: {agentId: $a})"), ids(a="agent")
    ),
    "renameChatSession": call(
        "mutation ($id: ID!)" + union('renameChatSession(id: $id, title: "renamed")'),
        ids(id="session"),
    ),
    "pinChatSession": call(
        "mutation ($id: ID!)" + union("pinChatSession(id: $id)"), ids(id="session")
    ),
    "moveChatSession": call(
        "mutation ($id: ID!, $f: ID)" + union("moveChatSession(id: $id, folderId: $f)"),
        ids(id="session", f="folder"),
    ),
    "deleteChatSession": call(
        "mutation ($id: ID!)" + union("deleteChatSession(id: $id)"), fresh(new_session)
    ),
    "sendMessage": call(
        "mutation ($input: SendMessageInput!)" + union("sendMessage(input: $input)"), chat_input
    ),
    "regenerateMessage": call(
        "mutation ($id: ID!)" + union("regenerateMessage(messageId: $id)"), ids(id="reply")
    ),
    "stopGeneration": call(
        "mutation ($id: ID!)" + union("stopGeneration(messageId: $id)"), ids(id="slow_reply")
    ),
    "switchBranch": call(
        "mutation ($id: ID!)" + union("switchBranch(messageId: $id)"), ids(id="reply")
    ),
    "rateMessage": call(
        "mutation ($id: ID!)" + union("rateMessage(messageId: $id, rating: DOWN)"),
        ids(id="reply"),
    ),
    "createCollection": call(
        "mutation ($n: String!, $m: ID!)"
        + union("createCollection(input: {name: $n, embeddingModelId: $m})"),
        plus(ids(m="minilm"), n=named("c")),
    ),
    "updateCollection": call(
        "mutation ($id: ID!)" + union('updateCollection(id: $id, input: {description: "d"})'),
        ids(id="collection"),
    ),
    "deleteCollection": call(
        "mutation ($id: ID!)" + union("deleteCollection(id: $id)"), fresh(new_collection)
    ),
    "uploadDocument": call(
        "mutation ($c: ID!, $file: Upload!)"
        + union("uploadDocument(collectionId: $c, file: $file)"),
        document_file,
        upload=True,
    ),
    "updateDocument": call(
        "mutation ($id: ID!)" + union('updateDocument(id: $id, input: {tags: ["t"]})'),
        ids(id="document"),
    ),
    "reindexDocument": call(
        "mutation ($id: ID!)" + union("reindexDocument(id: $id)"), ids(id="document")
    ),
    "reindexCollection": call(
        "mutation ($id: ID!)" + union("reindexCollection(id: $id)"), ids(id="collection")
    ),
    "deleteDocument": call(
        "mutation ($id: ID!)" + union("deleteDocument(id: $id)"), fresh(new_document)
    ),
    "setAgentCollections": call(
        "mutation ($a: ID!, $c: ID!)"
        + union("setAgentCollections(agentId: $a, collectionIds: [$c])"),
        ids(a="private_agent", c="collection"),
    ),
    # Subscription
    "messageStream": call(
        f"subscription ($id: ID!) {{ messageStream(messageId: $id) {{ __typename {REPLY} }} }}",
        ids(id="reply"),
    ),
    "chat": call(
        "subscription ($input: SendMessageInput!) "
        f"{{ chat(input: $input) {{ __typename {REPLY} }} }}",
        chat_input,
    ),
    "sessionUpdates": call("subscription { sessionUpdates { __typename } }", poke=True),
    "ingestionProgress": call(
        "subscription ($id: ID!) { ingestionProgress(documentId: $id) { __typename } }",
        ids(id="document"),
    ),
}


# --- running a call and naming its outcome ---------------------------------------


def outcome_of(errors: list[dict[str, Any]] | None, value: Any) -> str:
    """The outcome of a field, or a description of anything else it answered."""
    if errors:
        codes = {(error.get("extensions") or {}).get("code") for error in errors}
        return str(codes.pop()) if len(codes) == 1 and None not in codes else f"errors {errors}"
    if isinstance(value, dict):
        kind = value.get("__typename")
        if kind == "NotFound":
            return Outcome.NOT_FOUND
        if kind == "PermissionDenied":
            return Outcome.PERMISSION_DENIED
        if kind == "ReplyFailed":  # a subscription refused with one event
            return str(value["code"])
        if "message" in value:  # another user error
            return f"{kind}: {value['message']}"
    return Outcome.ALLOWED


async def over_http(world: World, name: str, spec: Call, caller: Caller) -> tuple[str, str]:
    variables = await spec.variables(world, caller) if spec.variables else {}
    token = world.token(caller)
    if spec.stand_in:
        token, variables = await stand_in(world, caller)
    if spec.upload:
        text = variables.pop("text")
        operations = {"query": spec.document, "variables": variables}
        response = await world.http.post(
            "/graphql",
            data={"operations": json.dumps(operations), "map": '{"0": ["variables.file"]}'},
            files={"0": ("policy.md", f"# Policy\n\n{text}\n".encode(), "text/markdown")},
            headers={"authorization": f"Bearer {token}"} if token else {},
        )
        # Multipart bodies are refused before they are read: 401/403 with the code.
        assert response.status_code in (200, 401, 403), response.text
        body: dict[str, Any] = response.json()
    else:
        body = await world.gql(spec.document, variables, token)
    return outcome_of(body.get("errors"), (body.get("data") or {}).get(name)), json.dumps(body)


async def over_websocket(world: World, name: str, spec: Call, caller: Caller) -> tuple[str, str]:
    """The outcome of a subscription's first message; the connection then closes."""
    variables = await spec.variables(world, caller) if spec.variables else {}
    person = world.callers[caller]
    async with connect(world.live_url, world.token(caller)) as connection:
        payload = {"query": spec.document, "variables": variables}
        await connection.ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        first = asyncio.ensure_future(connection.recv())
        while spec.poke and person is not None and not first.done():
            # Something for the caller's own channel, until the subscription hears it.
            await world.container.session_updates.publish(
                person.id, TitleChanged(uuid.uuid4(), "Leave")
            )
            await asyncio.wait([first], timeout=0.1)
        message = await first
    if message["type"] == "error":
        return outcome_of(message["payload"], None), json.dumps(message)
    assert message["type"] == "next", message
    result = message["payload"]
    return outcome_of(result.get("errors"), (result.get("data") or {}).get(name)), json.dumps(
        message
    )


async def settle(world: World) -> None:
    """Wait for the work calls leave behind: replies and ingestion."""
    await wait_replies(world, but=world.ids.get("slow_reply"))
    if isinstance(world.container.ingestion_queue, LocalIngestionQueue):
        await asyncio.wait_for(world.container.ingestion_queue.join(), 60)


# --- the tests -------------------------------------------------------------------


def test_every_root_field_has_a_row_in_the_table() -> None:
    check_coverage()


async def test_authorization_matrix(
    gql: GraphQLClient,
    client: httpx.AsyncClient,
    container: Container,
    people: PeopleFactory,
    live_url: str,
) -> None:
    check_coverage()
    callers: dict[Caller, Person | None] = {
        Caller.ANONYMOUS: None,
        Caller.OWNER: await people.member(),
        Caller.OTHER: await people.member(),
        Caller.ADMIN: await people.admin(),
    }
    world = World(gql, client, container, people, live_url, callers)
    await build_world(world)
    subscriptions = set(root_fields()["Subscription"])

    wrong: list[str] = []
    leaks: list[str] = []
    try:
        for name, spec in CALLS.items():
            run = over_websocket if name in subscriptions else over_http
            for caller in ORDER:
                got, answer = await run(world, name, spec, caller)
                expected = getattr(EXPECTED[name], caller.value)
                if got != expected:
                    wrong.append(f"{name:24} {caller.value:9} expected {expected}, got {got}")
                leaks.extend(
                    f"{name} answered {caller.value} with {mark!r}: {answer}"
                    for mark in HIDDEN[caller]
                    if mark in answer
                )
            await settle(world)
    finally:
        if "slow_reply" in world.ids:
            await world.gql(
                "mutation ($id: ID!) { stopGeneration(messageId: $id) { __typename } }",
                {"id": world.ids["slow_reply"]},
                world.token(Caller.OWNER),
            )
        await wait_replies(world)
        await settle(world)

    assert not leaks, "\n".join(leaks)
    assert not wrong, "Outcomes differ from EXPECTED:\n" + "\n".join(wrong)
    await check_audited(world)


async def check_audited(world: World) -> None:
    """Each administrator's change left its event, by the admin, from the caller's
    address; the refused attempts of the others left none."""
    changes = [name for name in root_fields()["Mutation"] if EXPECTED[name] == ADMIN_ONLY]
    assert sorted(changes) == sorted(AUDITED), "say what each admin mutation records"
    async with world.container.db.read() as session:
        rows = (
            await session.execute(
                select(AuditEvent.actor_id, AuditEvent.action, AuditEvent.address)
            )
        ).all()
    changes_made = set(AUDITED.values())
    by_admin = {
        action
        for actor, action, _ in rows
        if actor == world.person(Caller.ADMIN).id and action in changes_made
    }
    missing = sorted(name for name, action in AUDITED.items() if action not in by_admin)
    assert not missing, f"changes the audit log does not show: {missing}"
    members = {world.person(Caller.OWNER).id, world.person(Caller.OTHER).id}
    assert not [action for actor, action, _ in rows if actor in members and action in by_admin], (
        "a refused change was recorded"
    )
    assert {address for actor, _, address in rows if actor is not None} == {"127.0.0.1"}
